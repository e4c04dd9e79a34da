"""Message storage shared by the Web API handlers and the test-side actions (users posting).

A channel keeps all its messages, thread replies included, in ``ts`` order; a reply carries
``thread_ts``/``parent_user_id`` and its parent the ``reply_count``/``reply_users``/``latest_reply``
fields that Slack maintains.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from . import shapes
from .errors import SlackError
from .state import Channel, Workspace

SYSTEM_SUBTYPES = frozenset(
    {
        "channel_join",
        "channel_leave",
        "channel_topic",
        "channel_purpose",
        "channel_name",
        "channel_archive",
        "channel_unarchive",
    }
)


def author(message: dict[str, Any]) -> str:
    return str(message.get("user") or message.get("bot_id") or "")


def is_reply(message: dict[str, Any]) -> bool:
    thread_ts = message.get("thread_ts")
    return bool(thread_ts) and thread_ts != message.get("ts")


def in_history(message: dict[str, Any]) -> bool:
    """Whether ``conversations.history`` lists the message (top level or broadcast)."""
    return not is_reply(message) or message.get("subtype") == "thread_broadcast"


def bot_message(ws: Workspace, **fields: Any) -> dict[str, Any]:
    """A message authored by the app's bot user; ``fields`` with ``None`` values are dropped."""
    message: dict[str, Any] = {
        "user": ws.bot_user_id,
        "type": "message",
        "ts": "",
        "bot_id": ws.bot_id,
        "app_id": ws.app_id,
        "text": "",
        "team": ws.team_id,
        "bot_profile": shapes.bot_profile(ws),
    }
    message.update({k: v for k, v in fields.items() if v is not None})
    return message


_MENTION = re.compile(r"<([@#])([UWC][A-Z0-9]+)(?:\|[^>]*)?>")


def rich_elements(text: str) -> list[dict[str, Any]]:
    """The rich_text_section elements of typed ``text``: raw text, users and channels."""
    elements: list[dict[str, Any]] = []
    at = 0
    for match in _MENTION.finditer(text):
        if match.start() > at:
            elements.append({"type": "text", "text": _raw(text[at : match.start()])})
        if match.group(1) == "@":
            elements.append({"type": "user", "user_id": match.group(2)})
        else:
            elements.append({"type": "channel", "channel_id": match.group(2)})
        at = match.end()
    if at < len(text) or not elements:
        elements.append({"type": "text", "text": _raw(text[at:])})
    return elements


def _raw(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def user_message(
    ws: Workspace, user: str, text: str, files: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A message typed by a person in the Slack client (rich_text block included).

    As on Slack, ``text`` carries &, < and > as entities and the rich_text block the raw
    characters, with user and channel mentions as elements of their own."""
    message: dict[str, Any] = {
        "client_msg_id": str(uuid.uuid4()),
        "type": "message",
        "text": text,
        "user": user,
        "ts": "",
        "blocks": [
            {
                "type": "rich_text",
                "block_id": uuid.uuid4().hex[:5],
                "elements": [{"type": "rich_text_section", "elements": rich_elements(text)}],
            }
        ],
        "team": ws.team_id,
    }
    if files:
        message.update({"files": files, "upload": False, "display_as_bot": False})
    return message


def insert(
    ws: Workspace, channel: Channel, message: dict[str, Any], thread_ts: str | None = None
) -> dict[str, Any]:
    """Store ``message`` with a fresh ``ts``; a ``thread_ts`` makes it a reply.

    As on Slack, a ``thread_ts`` naming a reply threads under that reply's parent, and one
    naming no message at all is ignored (the message is posted at the top level).
    """
    message["ts"] = ws.next_ts()
    parent = channel.find(thread_ts) if thread_ts else None
    if parent is not None and is_reply(parent):
        parent = channel.find(str(parent["thread_ts"]))
    if parent is not None:
        message["thread_ts"] = parent["ts"]
        message["parent_user_id"] = author(parent)
        _relink(channel, parent, added=message)
    channel.messages.append(message)
    return message


def _relink(channel: Channel, parent: dict[str, Any], added: dict[str, Any] | None) -> None:
    replies = [m for m in channel.messages if m.get("thread_ts") == parent["ts"] and is_reply(m)]
    if added is not None:
        replies.append(added)
    if not replies:
        for key in ("reply_count", "reply_users_count", "latest_reply", "reply_users"):
            parent.pop(key, None)
        parent.pop("thread_ts", None)
        return
    users = list(dict.fromkeys(author(m) for m in replies))
    parent.update(
        {
            "thread_ts": parent["ts"],
            "reply_count": len(replies),
            "reply_users_count": len(users),
            "latest_reply": replies[-1]["ts"],
            "reply_users": users,
            "is_locked": False,
            "subscribed": False,
        }
    )


def find_or_raise(channel: Channel, ts: str | None) -> dict[str, Any]:
    message = channel.find(ts) if ts else None
    if message is None:
        raise SlackError("message_not_found")
    return message


def remove(channel: Channel, ts: str) -> dict[str, Any]:
    message = find_or_raise(channel, ts)
    channel.messages.remove(message)
    channel.pins[:] = [p for p in channel.pins if p["ts"] != ts]
    if is_reply(message):
        parent = channel.find(str(message["thread_ts"]))
        if parent is not None:
            _relink(channel, parent, added=None)
    return message


def system(
    ws: Workspace, channel: Channel, subtype: str, user: str, text: str, **extra: Any
) -> None:
    """A join/topic/rename/... notice as Slack writes into a channel's history."""
    message = {"subtype": subtype, "user": user, "text": text, "type": "message", **extra}
    insert(ws, channel, message)


def add_reaction(message: dict[str, Any], user: str, name: str) -> None:
    reactions: list[dict[str, Any]] = message.setdefault("reactions", [])
    for reaction in reactions:
        if reaction["name"] == name:
            if user in reaction["users"]:
                raise SlackError("already_reacted")
            reaction["users"].append(user)
            reaction["count"] = len(reaction["users"])
            return
    reactions.append({"name": name, "users": [user], "count": 1})


def remove_reaction(message: dict[str, Any], user: str, name: str) -> None:
    for reaction in message.get("reactions", []):
        if reaction["name"] == name and user in reaction["users"]:
            reaction["users"].remove(user)
            reaction["count"] = len(reaction["users"])
            if not reaction["users"]:
                message["reactions"].remove(reaction)
            if not message["reactions"]:
                del message["reactions"]
            return
    raise SlackError("no_reaction")


def reaction_name(raw: str | None) -> str:
    name = (raw or "").strip().strip(":")
    if not name or " " in name:
        raise SlackError("invalid_name")
    return name
