"""Reading a webhook's body within limits, and the answers senders get."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse

MAX_BODY = 1024 * 1024  # 1 MiB: alerts are small; anything bigger is refused unread


class Refused(Exception):
    """A request answered with an error status and a reason, before anything is stored."""

    def __init__(self, status: int, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}

    def response(self) -> JSONResponse:
        """The JSON answer: {"error": reason}."""
        return JSONResponse({"error": self.reason}, status_code=self.status, headers=self.headers)


def unauthorized(reason: str = "missing or wrong credentials") -> Refused:
    """401, with the scheme a sender should use."""
    return Refused(401, reason, {"WWW-Authenticate": 'Bearer realm="alerts"'})


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The raw body; 413 when Content-Length says it is too big or it grows past `limit`."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise Refused(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise Refused(413, f"the body is over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


def decode(body: bytes, content_type: str, *, form_allowed: bool = False) -> Any:
    """The body as JSON (or, where allowed, form fields); 400 with the reason otherwise."""
    if not body.strip():
        raise Refused(400, "the body is empty")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, f"the body is not UTF-8 (byte {exc.start})") from None
    if form_allowed and content_type.split(";")[0].strip().lower() == (
        "application/x-www-form-urlencoded"
    ):
        return dict(parse_qsl(text, keep_blank_values=True))
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise Refused(
            400, f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise Refused(400, "malformed JSON: nested too deeply") from None
