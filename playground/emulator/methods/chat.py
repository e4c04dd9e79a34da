"""The chat.* methods."""

from __future__ import annotations

from typing import Any

from .. import messages as msgs
from ..blockkit import check_message_blocks
from ..errors import SlackError
from ..params import Params
from ..state import Workspace
from ._base import Handler

TEXT_MAX = 40_000
ATTACHMENTS_MAX = 100


def content(p: Params, *, required: bool = True) -> dict[str, Any]:
    """Validated ``text``/``blocks``/``attachments``/``metadata`` of a message call.

    Only the arguments present are returned, so ``chat.update`` can keep the others.
    """
    out: dict[str, Any] = {}
    text = p.raw("text")
    blocks = p.raw("blocks")
    attachments = p.raw("attachments")
    if blocks == "":
        blocks = None
    if attachments == "":
        attachments = None
    if required and not text and not blocks and not attachments:
        raise SlackError("no_text")
    if text is not None:
        out["text"] = str(text)
        if len(out["text"]) > TEXT_MAX:
            raise SlackError("msg_too_long")
    if blocks is not None:
        check_message_blocks(blocks)
        out["blocks"] = blocks
    if attachments is not None:
        if not isinstance(attachments, list):
            raise SlackError("invalid_attachments")
        if len(attachments) > ATTACHMENTS_MAX:
            raise SlackError("too_many_attachments")
        out["attachments"] = [
            {"id": i + 1, **a} if isinstance(a, dict) else a for i, a in enumerate(attachments)
        ]
    metadata = p.raw("metadata")
    if isinstance(metadata, dict):
        out["metadata"] = metadata
    return out


def _styling(p: Params) -> dict[str, Any]:
    icons = {
        k: v
        for k, v in (("emoji", p.opt("icon_emoji")), ("image_64", p.opt("icon_url")))
        if v is not None
    }
    return {"username": p.opt("username"), "icons": icons or None}


def post_message(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"), users_as_dm=True)
    fields = content(p)
    ws.require_not_archived(ch)
    thread_ts = p.opt("thread_ts")
    message = msgs.bot_message(ws, **{"text": "", **fields, **_styling(p)})
    if thread_ts and p.flag("reply_broadcast"):
        message["subtype"] = "thread_broadcast"
    msgs.insert(ws, ch, message, thread_ts)
    return {"channel": ch.id, "ts": message["ts"], "message": message}


def post_ephemeral(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"), users_as_dm=True)
    user = p.opt("user")
    ws.user_or_raise(user)
    fields = content(p)
    ws.require_not_archived(ch)
    if user not in ch.members:
        raise SlackError("user_not_in_channel")
    ts = ws.next_ts()
    ws.ephemerals.append(
        {
            "type": "message",
            "channel": ch.id,
            "user": user,
            "ts": ts,
            "thread_ts": p.opt("thread_ts"),
            "bot_id": ws.bot_id,
            "text": "",
            **fields,
            "source": "chat.postEphemeral",
        }
    )
    return {"message_ts": ts}


def update(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    message = msgs.find_or_raise(ch, p.opt("ts"))
    if message.get("bot_id") != ws.bot_id:
        raise SlackError("cant_update_message")
    fields = content(p)
    ws.require_not_archived(ch)
    message.update(fields)
    for key in ("blocks", "attachments"):
        if key in fields and not fields[key]:
            message.pop(key, None)
    message["edited"] = {"user": ws.bot_user_id, "ts": ws.next_ts()}
    shown = {k: v for k, v in message.items() if k not in ("ts", "reactions", "pinned_to")}
    text = message.get("text", "")
    return {"channel": ch.id, "ts": message["ts"], "text": text, "message": shown}


def delete(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    message = msgs.find_or_raise(ch, p.opt("ts"))
    if message.get("bot_id") != ws.bot_id:
        raise SlackError("cant_delete_message")
    msgs.remove(ch, str(message["ts"]))
    return {"channel": ch.id, "ts": message["ts"]}


def get_permalink(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    message = msgs.find_or_raise(ch, p.opt("message_ts"))
    return {"channel": ch.id, "permalink": ws.permalink(ch, message)}


METHODS: dict[str, Handler] = {
    "chat.postMessage": post_message,
    "chat.postEphemeral": post_ephemeral,
    "chat.update": update,
    "chat.delete": delete,
    "chat.getPermalink": get_permalink,
}
