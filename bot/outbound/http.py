"""One HTTP POST for the senders: no redirects followed, and the two kinds of failure apart.

`NotDelivered`: the request never got through (refused, DNS, TLS, a timeout while sending),
so trying again cannot duplicate anything. `NoAnswer`: the request went out but no answer
came back; the receiver may have acted on it.
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import Message
from typing import Any

TIMEOUT_SECONDS = 15.0
USER_AGENT = "incident-bot/0.1 (+https://github.com/)"


class NotDelivered(Exception):
    """The request did not reach the receiver."""


class NoAnswer(Exception):
    """The request was sent; its answer never came."""


@dataclass(frozen=True)
class Response:
    """An HTTP answer, whatever its status."""

    status: int
    headers: Message
    body: bytes

    def json(self) -> Any:
        """The body as JSON, or None when it is not JSON."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return None

    def header(self, name: str) -> str | None:
        """One header's value."""
        value = self.headers.get(name)
        return str(value) if value is not None else None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None  # a 3xx is answered as it is, never re-sent elsewhere


_OPENER = urllib.request.build_opener(_NoRedirects())


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float = TIMEOUT_SECONDS,
) -> Response:
    """POST `body` to `url`; any HTTP status is a Response, transport failures are raised."""
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"User-Agent": USER_AGENT, **headers}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as answer:
            return Response(answer.status, answer.headers, answer.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return Response(exc.code, exc.headers, exc.read())
    except urllib.error.URLError as exc:  # raised while connecting or sending
        reason = exc.reason
        if isinstance(reason, ssl.SSLCertVerificationError):
            raise NotDelivered(f"certificate not trusted: {reason.verify_message}") from exc
        raise NotDelivered(str(reason)) from exc
    except (OSError, ValueError) as exc:  # after sending: the answer was lost
        raise NoAnswer(f"{type(exc).__name__}: {exc}") from exc
