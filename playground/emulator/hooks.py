"""``response_url`` endpoints: what apps post back to slash commands and interactions."""

from __future__ import annotations

import json
import secrets
from typing import Any
from urllib.parse import parse_qsl

from . import messages as msgs
from .blockkit import check_message_blocks
from .errors import SlackError
from .state import Workspace


def new_response_url(
    ws: Workspace,
    *,
    channel: str | None = None,
    user: str | None = None,
    message_ts: str | None = None,
) -> str:
    """A fresh ``response_url`` tied to a channel, user and (for interactions) a message."""
    with ws.lock:
        hook_id = secrets.token_hex(12)
        ws.response_urls[hook_id] = {
            "channel": channel,
            "user": user,
            "message_ts": message_ts,
            "uses": 0,
            "created": ws.now(),
        }
        return f"{ws.base_url}/response/{hook_id}"


def _decode(content_type: str, raw: bytes) -> dict[str, Any]:
    text = raw.decode("utf-8")
    if content_type.startswith("application/x-www-form-urlencoded"):
        text = dict(parse_qsl(text)).get("payload", "")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("not an object")
    return data


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def post(ws: Workspace, hook_id: str, content_type: str, raw: bytes) -> tuple[int, dict[str, Any]]:
    """Handle ``POST /response/<hook_id>``: record it and act on it as Slack would."""
    with ws.lock:
        hook = ws.response_urls.get(hook_id)
        if hook is None:
            return 404, {"ok": False, "error": "expired_url"}
        try:
            body = _decode(content_type, raw)
        except ValueError:
            return 400, {"ok": False, "error": "invalid_payload"}
        if hook["uses"] >= ws.response_url_max_uses:
            return 404, {"ok": False, "error": "used_url"}
        hook["uses"] += 1
        record: dict[str, Any] = {
            "id": hook_id,
            "url": f"{ws.base_url}/response/{hook_id}",
            "body": body,
            "at": ws.now(),
            "channel": hook["channel"],
            "user": hook["user"],
            "message_ts": hook["message_ts"],
            "outcome": None,
        }
        ws.responses.append(record)
        try:
            record["outcome"] = _apply(ws, hook, body)
        except SlackError as exc:
            record["outcome"] = exc.code
            return 400, exc.body()
        return 200, {"ok": True}


def _content(body: dict[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {k: body[k] for k in ("text", "blocks", "attachments") if k in body}
    if not fields.get("text") and not fields.get("blocks") and not fields.get("attachments"):
        raise SlackError("no_text")
    check_message_blocks(fields.get("blocks"))
    return fields


def _apply(ws: Workspace, hook: dict[str, Any], body: dict[str, Any]) -> str:
    channel = ws.channels.get(hook["channel"] or "")
    original = channel.find(hook["message_ts"]) if channel and hook["message_ts"] else None
    if _truthy(body.get("delete_original")):
        if channel is not None and original is not None:
            msgs.remove(channel, str(original["ts"]))
            return "deleted"
        return "nothing_to_delete"
    fields = _content(body)
    if _truthy(body.get("replace_original")) and original is not None:
        original.update(fields)
        return "replaced"
    if body.get("response_type") == "in_channel":
        if channel is None:
            return "unknown_channel"
        message = msgs.bot_message(ws, **{"text": "", **fields})
        msgs.insert(ws, channel, message, body.get("thread_ts"))
        return "posted"
    ws.ephemerals.append(
        {
            "type": "message",
            "channel": hook["channel"],
            "user": hook["user"],
            "ts": ws.next_ts(),
            "thread_ts": body.get("thread_ts"),
            "bot_id": ws.bot_id,
            "text": "",
            **fields,
            "source": "response_url",
        }
    )
    return "ephemeral"
