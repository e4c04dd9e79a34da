"""What arrives at POST /slack/events is checked before anything is parsed or kept.

In order: the size (Content-Length first, then while reading), a deadline for the body,
Slack's request signature over the raw bytes, then parsing (strict UTF-8, a bounded number of
form fields, JSON nested at most MAX_DEPTH deep), then the team and app it is for (done by the
caller with bot.slack.identity). A refusal is a short plain-text answer and one log line,
never a traceback.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from slack_bolt import BoltRequest

from web.forms import parse_form

SIGNATURE_MAX_AGE = 300  # seconds: Slack's advice for rejecting replayed requests
MAX_DEPTH = 64  # Slack's payloads nest about 15 deep (a view's rich text at most)
MAX_FORM_FIELDS = 64  # a slash command has about 15
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Refused(Exception):
    """The request is answered `status` with `reason`, and processed no further."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class SlackRequest:
    """A verified, parsed request."""

    body: bytes
    text: str
    content_type: str
    data: dict[str, Any]  # the JSON body, the form fields, or an interaction's payload
    kind: str | None  # events_api, slash_commands, interactive; None: url_verification & co
    event_id: str | None
    team_id: str | None
    app_id: str | None


async def read_body(
    receive: Callable[[], Awaitable[MutableMapping[str, Any]]],
    declared: str | None,
    *,
    limit: int,
    timeout: float,
) -> bytes:
    """The body from ASGI `receive`, refused when it is bigger than `limit` (`declared`: its
    Content-Length header) or takes longer than `timeout`."""
    if declared is not None:
        if not declared.isdigit():
            raise Refused(400, "bad Content-Length")
        if int(declared) > limit:
            raise Refused(413, f"body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    raise Refused(400, "client went away while sending")
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise Refused(413, f"body over {limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
    except TimeoutError:
        raise Refused(408, f"body not received within {timeout:g} s") from None
    return b"".join(chunks)


def verify(secret: str, body: bytes, headers: Mapping[str, str], now: float | None = None) -> None:
    """Check Slack's v0 signature of `body` and the timestamp's age."""
    timestamp = headers.get("x-slack-request-timestamp", "")
    signature = headers.get("x-slack-signature", "")
    if not timestamp or not signature:
        raise Refused(401, "unsigned request")
    if not timestamp.isdigit():
        raise Refused(401, "bad signature timestamp")
    if abs((now if now is not None else time.time()) - int(timestamp)) > SIGNATURE_MAX_AGE:
        raise Refused(401, "stale signature timestamp")
    base = b"v0:" + timestamp.encode() + b":" + body
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.encode("utf-8", "replace")):
        raise Refused(401, "bad signature")


# Every byte but brackets and quotes (deleted by bytes.translate, a table lookup in C; a str
# translate looks each character up in a dict) and the depth each bracket steps.
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b'[]{}"')
_STEP = {ord("["): 1, ord("{"): 1, ord("]"): -1, ord("}"): -1}


def _too_deep(text: str) -> bool:
    """True when valid JSON `text` nests arrays and objects more than MAX_DEPTH deep."""
    if text.count("{") + text.count("[") <= MAX_DEPTH:
        return False  # (no deeper than it has openers: most payloads are never scanned)
    # Outside strings (escaped backslashes and quotes taken out first, so every quote left
    # opens or closes one), only the brackets; then the depth after each. All of it in C.
    unescaped = text.replace("\\\\", "").replace('\\"', "")
    kept = unescaped.encode().translate(None, _NOT_BRACKETS)  # brackets and quotes
    brackets = b"".join(kept.split(b'"')[::2])
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0) > MAX_DEPTH


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)  # first: strings are then well formed, the scan is linear
    except RecursionError:
        raise Refused(400, f"{what} nested too deeply") from None
    except ValueError:
        raise Refused(400, f"{what} is not JSON") from None
    if _too_deep(text):
        raise Refused(400, f"{what} nested too deeply")
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise Refused(400, f"{what} is not a Slack payload")
    return value


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def parse(body: bytes, content_type: str) -> SlackRequest:
    """Parse a verified body the way Slack sends it; Refused(400) for anything else."""
    mime = content_type.split(";")[0].strip().lower()
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Refused(400, "body is not UTF-8") from None
    if mime == JSON:
        data = _json_object(text, "body")
        kind = data["type"]
        if kind == "event_callback":
            event_id = _str(data.get("event_id"))
            if event_id is None or not isinstance(data.get("event"), dict):
                raise Refused(400, "event_callback without event or event_id")
            team, app = _str(data.get("team_id")), _str(data.get("api_app_id"))
            return SlackRequest(body, text, mime, data, "events_api", event_id, team, app)
        if kind in ("url_verification", "app_rate_limited"):
            return SlackRequest(body, text, mime, data, None, None, None, None)
        raise Refused(400, f"unknown request type {kind[:40]!r}")
    if mime != FORM:
        raise Refused(400, f"unsupported content type {mime[:60]!r}")
    try:
        fields = dict(parse_form(text, MAX_FORM_FIELDS))
    except ValueError:
        raise Refused(400, "too many form fields") from None
    if "payload" in fields:
        payload = _json_object(fields["payload"], "payload")
        team = payload.get("team")
        team_id = _str(team.get("id")) if isinstance(team, dict) else None
        if team_id is None and isinstance(payload.get("user"), dict):
            team_id = _str(payload["user"].get("team_id"))
        app = _str(payload.get("api_app_id"))
        return SlackRequest(body, text, mime, payload, "interactive", None, team_id, app)
    if fields.get("command"):
        team, app = _str(fields.get("team_id")), _str(fields.get("api_app_id"))
        return SlackRequest(body, text, mime, fields, "slash_commands", None, team, app)
    if fields.get("ssl_check"):
        return SlackRequest(body, text, mime, fields, None, None, None, None)
    raise Refused(400, "form is neither a command nor an interaction")


def body_of(text: str, content_type: str) -> dict[str, Any]:
    """A kept body (checked when it came) as Bolt's listeners see it.

    Bolt's own parse_body takes any form that contains the word "payload" for an interaction
    and, finding no payload field, gives an empty body: a slash command such as
    `/incident note the payload service is down` then matched no listener and was dropped."""
    if content_type.split(";")[0].strip().lower() == JSON or text.startswith("{"):
        data = json.loads(text)
        return data if isinstance(data, dict) else {}
    fields = dict(parse_form(text))
    if "payload" in fields:
        payload = json.loads(fields["payload"])
        return payload if isinstance(payload, dict) else {}
    return fields


def bolt_request(
    body: str | dict[str, Any], content_type: str, context: dict[str, Any] | None = None
) -> BoltRequest:
    """Bolt's request for a body kept or parsed here (never parsed again by Bolt, see
    `body_of`). Bolt takes a parsed body only as Socket Mode's; it reads `mode` only to skip
    its signature check, which is off: signatures are checked on the raw bytes (`verify`)."""
    data = body_of(body, content_type) if isinstance(body, str) else body
    headers: dict[str, str | Sequence[str]] = {"content-type": content_type} if content_type else {}
    return BoltRequest(body=data, headers=headers, context=context, mode="socket_mode")
