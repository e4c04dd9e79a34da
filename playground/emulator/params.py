"""Decoding Web API requests the way Slack accepts them.

``slack_sdk.WebClient`` sends a method's arguments in one of several encodings: a JSON body
(``chat.*``, ``views.*``, ...), a form body (``conversations.history``, ``files.*``, ...), a
multipart body (file uploads), or, with other clients, a query string. Slack merges all of them;
so does :func:`parse_params`.
"""

from __future__ import annotations

import contextlib
import json
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any
from urllib.parse import parse_qsl

from .errors import SlackError, missing_field

#: Arguments that carry JSON when sent as form fields (decoded so tests see structures).
JSON_ARGS = ("blocks", "attachments", "view", "metadata", "files", "user_auth_blocks")

TRUE_VALUES = {"1", "true", "yes", "on"}


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes, str | None]]:
    """(field name, raw value, filename) for each part of a ``multipart/form-data`` body."""
    head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message: Message = BytesParser(policy=HTTP).parsebytes(head + body)
    parts: list[tuple[str, bytes, str | None]] = []
    if not message.is_multipart():
        return parts
    for part in message.get_payload():
        if not isinstance(part, Message):
            continue
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        parts.append((str(name or ""), data, part.get_filename()))
    return parts


def parse_params(content_type: str, body: bytes, query: str) -> dict[str, Any]:
    """Merge query string and body (JSON, form or multipart) into one dict of arguments."""
    params: dict[str, Any] = dict(parse_qsl(query, keep_blank_values=True))
    mime = content_type.split(";")[0].strip().lower()
    if body.strip():
        if mime == "application/json":
            try:
                data = json.loads(body)
            except ValueError as exc:
                raise SlackError("invalid_json") from exc
            if not isinstance(data, dict):
                raise SlackError("invalid_json")
            params.update(data)
        elif mime == "multipart/form-data":
            for name, raw, filename in parse_multipart(content_type, body):
                params[name] = raw if filename else raw.decode("utf-8", "replace")
        elif mime in ("application/x-www-form-urlencoded", "text/plain", ""):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise SlackError("invalid_form_data") from exc
            params.update(parse_qsl(text, keep_blank_values=True))
        else:
            raise SlackError("invalid_post_type")
    for key in JSON_ARGS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):  # else left as a string for the handler
                params[key] = json.loads(value)
    return params


class Params:
    """Typed access to a request's merged arguments."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def __contains__(self, name: str) -> bool:
        return self.data.get(name) not in (None, "")

    def raw(self, name: str) -> Any:
        return self.data.get(name)

    def opt(self, name: str, default: str | None = None) -> str | None:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (dict, list)):
            return json.dumps(value)
        return str(value)

    def req(self, name: str, error: str | None = None) -> str:
        """A required string argument; raise ``error`` (or ``invalid_arguments``) when absent."""
        value = self.opt(name)
        if value is None:
            raise SlackError(error) if error else missing_field(name)
        return value

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in TRUE_VALUES

    def num(self, name: str, default: int) -> int:
        value = self.data.get(name)
        if value is None or value == "":
            return default
        try:
            return int(value)
        except (TypeError, ValueError) as exc:
            raise SlackError("invalid_arguments") from exc

    def csv(self, name: str) -> list[str]:
        """A comma-separated (or JSON array) argument as a list of non-empty strings."""
        value = self.data.get(name)
        if value is None:
            return []
        if isinstance(value, list):
            return [str(v).strip() for v in value if str(v).strip()]
        return [v.strip() for v in str(value).split(",") if v.strip()]
