"""Fake Twilio, Vonage and Mastodon APIs on one loopback HTTP server, built from their docs.

- Twilio Messages: `POST /2010-04-01/Accounts/{AccountSid}/Messages.json`, HTTP Basic auth
  (Account SID : Auth Token), form fields `To`, `From`, `Body`; 201 with the Message resource
  (`sid` "SM…", `status` "queued", `num_segments`); errors are JSON
  `{"code", "message", "more_info", "status"}` (20003 authenticate, 21211 invalid To,
  21602 body required, 21604 To required, 21617 body over 1600, 20429 too many requests
  with Retry-After, 20500 internal error).
- Vonage SMS API: `POST /sms/json`, form fields `api_key`, `api_secret`, `from`, `to`
  (digits, no +), `text`, `type` (`unicode` for non-GSM text), `client-ref`; HTTP 200 with
  `{"message-count", "messages": [{"to", "message-id", "status", ...}]}`, one entry per part;
  a non-zero `status` with `error-text` is a failure (1 throttled, 2 missing params,
  3 invalid params, 4 bad credentials, 5 internal error).
- Mastodon: `POST /api/v1/statuses`, `Authorization: Bearer <token>`, form field `status`,
  `visibility`; 200 with a Status (`id`, `url`, `uri`, `content`, ...); `Idempotency-Key`
  returns the status already made for that key (Mastodon keeps keys for an hour); the
  500-character limit counts every link as 23 characters; errors `{"error": ...}` (401
  "This method requires an authenticated user" without a token, "The access token is
  invalid" with a wrong one, 422 "Validation failed: ...", 429 with X-RateLimit-Limit,
  -Remaining and -Reset (an ISO 8601 time), 5xx).

`fail(api, status, ...)` makes the next calls of one API fail with the documented body.
"""

from __future__ import annotations

import base64
import html
import json
import re
import secrets
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from bot.stakeholders.wording import is_gsm, sms_units

TWILIO_SID = "AC" + "0123456789abcdef" * 2
TWILIO_TOKEN = "twilio-auth-token-1234"
VONAGE_KEY = "abcd1234"
VONAGE_SECRET = "vonage-secret-99"
MASTODON_TOKEN = "mastodon-token-xyz"

TWILIO_ERRORS: dict[int, tuple[int, str]] = {
    400: (21211, "The 'To' number is not a valid phone number."),
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "Internal Server Error"),
    503: (20503, "Service Unavailable"),
}


@dataclass
class Call:
    """One request a fake API received."""

    api: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]
    status: int
    answer: Any = None


@dataclass
class Fault:
    status: int
    times: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # read the request, then close without answering


def _parts(text: str) -> int:
    units = sms_units(text)
    single, multi = (160, 153) if is_gsm(text) else (70, 67)
    return 1 if units <= single else -(-units // multi)


class FakeProviders:
    """The three fake APIs; `url` is their common base URL."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.calls: list[Call] = []
        self.faults: dict[str, list[Fault]] = {"twilio": [], "vonage": [], "mastodon": []}
        self.vonage_status: list[tuple[str, str]] = []  # (status, error-text) per next call
        self.statuses: dict[str, dict[str, Any]] = {}  # Mastodon idempotency key -> status
        self.posted: list[dict[str, Any]] = []  # Mastodon statuses created
        self.texts: list[dict[str, str]] = []  # SMS accepted: api, to, from, body
        fakes = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                fakes._handle(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> FakeProviders:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(
        self,
        api: str,
        status: int,
        *,
        times: int = 1,
        body: Any = None,
        headers: dict[str, str] | None = None,
        drop: bool = False,
    ) -> None:
        """The next `times` calls of `api` answer `status` (or are dropped unanswered)."""
        with self.lock:
            self.faults[api].append(Fault(status, times, body, dict(headers or {}), drop))

    def calls_to(self, api: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls if c.api == api]

    # -- dispatch --------------------------------------------------------------------------

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        raw = request.rfile.read(length).decode()
        if (request.headers.get("Content-Type") or "").startswith("application/json"):
            form = {k: str(v) for k, v in json.loads(raw or "{}").items()}
        else:
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in request.headers.items()}
        path = request.path.split("?")[0]
        if path.startswith("/2010-04-01/Accounts/") and path.endswith("/Messages.json"):
            api = "twilio"
        elif path == "/sms/json":
            api = "vonage"
        elif path == "/api/v1/statuses":
            api = "mastodon"
        else:
            self._answer(request, 404, {"error": "Not Found"})
            return
        fault = self._next_fault(api)
        if fault is not None and fault.drop:
            with self.lock:
                self.calls.append(Call(api, path, headers, form, 0))
            request.close_connection = True
            request.connection.shutdown(2)
            return
        if fault is not None:
            status, body, extra = fault.status, fault.body, fault.headers
            if body is None:
                body = self._error_body(api, status)
            if status == 429 and api == "mastodon" and not extra:
                reset = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
                extra = {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0"}
                extra["X-RateLimit-Reset"] = reset
        else:
            status, body, extra = getattr(self, f"_{api}")(path, headers, form)
        with self.lock:
            self.calls.append(Call(api, path, headers, form, status, body))
        self._answer(request, status, body, extra)

    def _next_fault(self, api: str) -> Fault | None:
        with self.lock:
            queue = self.faults[api]
            if not queue:
                return None
            fault = queue[0]
            fault.times -= 1
            if fault.times <= 0:
                queue.pop(0)
            return fault

    @staticmethod
    def _error_body(api: str, status: int) -> Any:
        if api == "twilio":
            code, message = TWILIO_ERRORS.get(status, (20001, "Error"))
            return {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": status,
            }
        if api == "mastodon":
            return {"error": "Too many requests" if status == 429 else "Something went wrong"}
        return {"error-code": str(status), "error-code-label": "error"}

    @staticmethod
    def _answer(
        request: BaseHTTPRequestHandler,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json; charset=utf-8")
        request.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            request.send_header(name, value)
        request.end_headers()
        request.wfile.write(data)

    # -- Twilio ----------------------------------------------------------------------------

    def _twilio(self, path: str, headers: dict[str, str], form: dict[str, str]) -> Any:
        sid = path.split("/")[3]
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        if headers.get("authorization") != expected or sid != TWILIO_SID:
            return 401, self._error_body("twilio", 401), {}

        def error(code: int, message: str) -> Any:
            body = {
                "code": code,
                "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}",
                "status": 400,
            }
            return 400, body, {}

        to, sender, text = form.get("To", ""), form.get("From", ""), form.get("Body", "")
        if not to:
            return error(21604, "A 'To' phone number is required.")
        if not to.startswith("+") or not to[1:].isdigit():
            return error(21211, f"The 'To' number {to} is not a valid phone number.")
        if not text:
            return error(21602, "Message body is required.")
        if len(text) > 1600:
            return error(21617, "The concatenated message body exceeds the 1600 character limit.")
        now = format_datetime(datetime.now(UTC), usegmt=True)
        message_sid = "SM" + secrets.token_hex(16)
        with self.lock:
            self.texts.append({"api": "twilio", "to": to, "from": sender, "body": text})
        return (
            201,
            {
                "sid": message_sid,
                "account_sid": TWILIO_SID,
                "to": to,
                "from": sender,
                "body": text,
                "status": "queued",
                "num_segments": str(_parts(text)),
                "num_media": "0",
                "direction": "outbound-api",
                "api_version": "2010-04-01",
                "date_created": now,
                "date_updated": now,
                "date_sent": None,
                "price": None,
                "price_unit": "USD",
                "error_code": None,
                "error_message": None,
                "uri": f"/2010-04-01/Accounts/{TWILIO_SID}/Messages/{message_sid}.json",
            },
            {},
        )

    # -- Vonage ----------------------------------------------------------------------------

    def _vonage(self, path: str, headers: dict[str, str], form: dict[str, str]) -> Any:
        def refused(status: str, text: str) -> Any:
            return (
                200,
                {"message-count": "1", "messages": [{"status": status, "error-text": text}]},
                {},
            )

        with self.lock:
            forced = self.vonage_status.pop(0) if self.vonage_status else None
        if forced is not None:
            return refused(*forced)
        for name in ("api_key", "api_secret", "from", "to", "text"):
            if not form.get(name):
                return refused("2", f"Missing {name} param")
        if form["api_key"] != VONAGE_KEY or form["api_secret"] != VONAGE_SECRET:
            return refused("4", "Bad Credentials")
        if not form["to"].isdigit():
            return refused("3", "Invalid to param")
        text = form["text"]
        if not is_gsm(text) and form.get("type") != "unicode":
            text = "".join(c if is_gsm(c) else "?" for c in text)  # what the handset would show
        with self.lock:
            self.texts.append(
                {"api": "vonage", "to": form["to"], "from": form["from"], "body": text}
            )
        parts = _parts(text)
        messages = [
            {
                "to": form["to"],
                "message-id": secrets.token_hex(8).upper(),
                "status": "0",
                "remaining-balance": "15.53590000",
                "message-price": "0.03330000",
                "network": "23410",
                "client-ref": form.get("client-ref", ""),
            }
            for _ in range(parts)
        ]
        return 200, {"message-count": str(parts), "messages": messages}, {}

    # -- Mastodon --------------------------------------------------------------------------

    def _mastodon(self, path: str, headers: dict[str, str], form: dict[str, str]) -> Any:
        if not headers.get("authorization", "").startswith("Bearer "):
            return 401, {"error": "This method requires an authenticated user"}, {}
        if headers.get("authorization") != f"Bearer {MASTODON_TOKEN}":
            return 401, {"error": "The access token is invalid"}, {}
        key = headers.get("idempotency-key")
        with self.lock:
            if key and key in self.statuses:
                return 200, self.statuses[key], {}
        text = form.get("status", "")
        if not text.strip():
            return 422, {"error": "Validation failed: Text can't be blank"}, {}
        if len(re.sub(r"https?://\S+", "x" * 23, text)) > 500:  # a link counts 23
            return 422, {"error": "Validation failed: Text character limit of 500 exceeded"}, {}
        status_id = str(100000 + len(self.posted))
        status = {
            "id": status_id,
            "created_at": datetime.now(UTC).isoformat(),
            "visibility": form.get("visibility", "public"),
            "content": "<p>" + html.escape(text).replace("\n", "<br />") + "</p>",
            "uri": f"https://social.example/users/acme/statuses/{status_id}",
            "url": f"https://social.example/@acme/{status_id}",
            "account": {"id": "1", "username": "acme", "acct": "acme"},
        }
        with self.lock:
            self.posted.append({"text": text, **status})
            if key:
                self.statuses[key] = status
        return 200, status, {}
