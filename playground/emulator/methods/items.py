"""Things attached to messages and channels: reactions.*, pins.* and bookmarks.*."""

from __future__ import annotations

from typing import Any

from .. import messages as msgs
from ..errors import SlackError, missing_field
from ..params import Params
from ..state import Channel, Workspace
from ._base import Handler


def _item(ws: Workspace, p: Params, ts_arg: str = "timestamp") -> tuple[Channel, dict[str, Any]]:
    ch = ws.channel_or_raise(p.opt("channel"))
    if not p.opt(ts_arg):
        raise SlackError("no_item_specified")
    return ch, msgs.find_or_raise(ch, p.opt(ts_arg))


# ---------------------------------------------------------------------- reactions


def reactions_add(ws: Workspace, p: Params) -> dict[str, Any]:
    name = msgs.reaction_name(p.opt("name"))
    ch, message = _item(ws, p)
    ws.require_not_archived(ch)
    msgs.add_reaction(message, ws.bot_user_id, name)
    return {}


def reactions_remove(ws: Workspace, p: Params) -> dict[str, Any]:
    name = msgs.reaction_name(p.opt("name"))
    _, message = _item(ws, p)
    msgs.remove_reaction(message, ws.bot_user_id, name)
    return {}


def reactions_get(ws: Workspace, p: Params) -> dict[str, Any]:
    ch, message = _item(ws, p)
    return {
        "type": "message",
        "channel": ch.id,
        "message": {**message, "permalink": ws.permalink(ch, message)},
    }


# ---------------------------------------------------------------------- pins


def pins_add(ws: Workspace, p: Params) -> dict[str, Any]:
    ch, message = _item(ws, p)
    ws.require_bot_member(ch)
    ws.require_not_archived(ch)
    if any(pin["ts"] == message["ts"] for pin in ch.pins):
        raise SlackError("already_pinned")
    ch.pins.append({"ts": message["ts"], "created": int(ws.now()), "created_by": ws.bot_user_id})
    message["pinned_to"] = [ch.id]
    return {}


def pins_remove(ws: Workspace, p: Params) -> dict[str, Any]:
    ch, message = _item(ws, p)
    pins = [pin for pin in ch.pins if pin["ts"] == message["ts"]]
    if not pins:
        raise SlackError("no_pin")
    ch.pins.remove(pins[0])
    message.pop("pinned_to", None)
    return {}


def pins_list(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    items = []
    for pin in reversed(ch.pins):
        message = ch.find(pin["ts"])
        if message is not None:
            items.append(
                {
                    "type": "message",
                    "created": pin["created"],
                    "created_by": pin["created_by"],
                    "channel": ch.id,
                    "message": {**message, "permalink": ws.permalink(ch, message)},
                }
            )
    return {"items": items}


# ---------------------------------------------------------------------- bookmarks


def _check_link(link: str | None) -> None:
    if link is not None and not link.startswith(("http://", "https://")):
        raise SlackError("invalid_link")


def _bookmark(ws: Workspace, p: Params) -> tuple[Channel, dict[str, Any]]:
    ch = ws.channel_or_raise(p.opt("channel_id"))
    bookmark_id = p.opt("bookmark_id")
    for bookmark in ch.bookmarks:
        if bookmark["id"] == bookmark_id:
            return ch, bookmark
    raise SlackError("not_found")


def bookmarks_add(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel_id"))
    title = p.opt("title")
    if title is None:
        raise missing_field("title")
    if p.opt("type") != "link":
        raise SlackError("invalid_bookmark_type")
    link = p.opt("link")
    if link is None:
        raise SlackError("invalid_link")
    _check_link(link)
    bookmark = {
        "id": ws.new_id("Bk"),
        "channel_id": ch.id,
        "title": title,
        "link": link,
        "emoji": p.opt("emoji"),
        "icon_url": None,
        "type": "link",
        "entity_id": p.opt("entity_id"),
        "date_created": int(ws.now()),
        "date_updated": 0,
        "rank": chr(ord("a") + len(ch.bookmarks) % 26),
        "last_updated_by_user_id": ws.bot_user_id,
        "last_updated_by_team_id": ws.team_id,
        "shortcut_id": None,
        "app_id": ws.app_id,
    }
    ch.bookmarks.append(bookmark)
    return {"bookmark": bookmark}


def bookmarks_edit(ws: Workspace, p: Params) -> dict[str, Any]:
    _, bookmark = _bookmark(ws, p)
    _check_link(p.opt("link"))
    for key in ("title", "link", "emoji"):
        if p.opt(key) is not None:
            bookmark[key] = p.opt(key)
    bookmark["date_updated"] = int(ws.now())
    return {"bookmark": bookmark}


def bookmarks_remove(ws: Workspace, p: Params) -> dict[str, Any]:
    ch, bookmark = _bookmark(ws, p)
    ch.bookmarks.remove(bookmark)
    return {}


def bookmarks_list(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel_id"))
    return {"bookmarks": list(ch.bookmarks)}


METHODS: dict[str, Handler] = {
    "reactions.add": reactions_add,
    "reactions.remove": reactions_remove,
    "reactions.get": reactions_get,
    "pins.add": pins_add,
    "pins.remove": pins_remove,
    "pins.list": pins_list,
    "bookmarks.add": bookmarks_add,
    "bookmarks.edit": bookmarks_edit,
    "bookmarks.remove": bookmarks_remove,
    "bookmarks.list": bookmarks_list,
}
