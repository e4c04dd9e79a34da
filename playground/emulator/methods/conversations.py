"""The conversations.* methods."""

from __future__ import annotations

import re
from typing import Any

from .. import messages as msgs
from .. import shapes
from ..errors import SlackError
from ..params import Params
from ..state import Channel, Workspace
from ._base import Handler, paginate

_NAME = re.compile(r"^[a-z0-9_\-]+$")
_KINDS = {"public_channel": "public", "private_channel": "private", "im": "im", "mpim": "mpim"}
TOPIC_MAX = 250


def check_name(ws: Workspace, name: str | None, *, current: Channel | None = None) -> str:
    """Slack's channel name rules, in the order Slack reports them."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not _NAME.match(name):
        raise SlackError("invalid_name_specials")
    if all(c in "-_" for c in name):
        raise SlackError("invalid_name_punctuation")
    taken = ws.channel_by_name(name)
    if taken is not None and taken is not current:
        raise SlackError("name_taken")
    return name


def _channel(ws: Workspace, ch: Channel, **extra: Any) -> dict[str, Any]:
    return {"channel": shapes.channel(ws, ch), **extra}


def _managed(ws: Workspace, p: Params) -> Channel:
    """A channel the bot administers: it must exist, be a channel, and have the bot in it."""
    ch = ws.channel_or_raise(p.opt("channel"))
    if ch.kind not in ("public", "private"):
        raise SlackError("method_not_supported_for_channel_type")
    ws.require_bot_member(ch)
    return ch


def _join(ws: Workspace, ch: Channel, user: str, inviter: str | None = None) -> None:
    ch.members.append(user)
    extra = {"inviter": inviter} if inviter and inviter != user else {}
    msgs.system(ws, ch, "channel_join", user, f"<@{user}> has joined the channel", **extra)


def create(ws: Workspace, p: Params) -> dict[str, Any]:
    name = check_name(ws, p.opt("name"))
    ch = ws.add_channel(name, private=p.flag("is_private"), members=[])
    _join(ws, ch, ws.bot_user_id)
    return _channel(ws, ch)


def info(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    return {"channel": shapes.channel(ws, ch, num_members=p.flag("include_num_members"))}


def list_(ws: Workspace, p: Params) -> dict[str, Any]:
    types = p.csv("types") or ["public_channel"]
    wanted = {_KINDS[t] for t in types if t in _KINDS}
    found = [
        shapes.channel(ws, ch, num_members=ch.kind != "im")
        for ch in ws.channels.values()
        if ch.kind in wanted
        and ws.visible(ch)
        and not (p.flag("exclude_archived") and ch.is_archived)
    ]
    page, meta = paginate(found, p)
    return {"channels": page, "response_metadata": meta}


def invite(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    if ch.kind not in ("public", "private"):
        raise SlackError("method_not_supported_for_channel_type")
    ws.require_not_archived(ch)
    ws.require_bot_member(ch)
    users = p.csv("users")
    if not users:
        raise SlackError("no_user")
    if len(users) > 1000:
        raise SlackError("too_many_users")
    errors: list[dict[str, Any]] = []
    accepted: list[str] = []
    for user in dict.fromkeys(users):
        if user == ws.bot_user_id:
            error = "cant_invite_self"
        elif user not in ws.users or ws.users[user].get("deleted"):
            error = "user_not_found"
        elif user in ch.members:
            error = "already_in_channel"
        else:
            accepted.append(user)
            continue
        errors.append({"user": user, "ok": False, "error": error})
    if errors and not p.flag("force"):
        raise SlackError(errors[0]["error"], extra={"errors": errors})
    for user in accepted:
        _join(ws, ch, user, inviter=ws.bot_user_id)
    return _channel(ws, ch, **({"errors": errors} if errors else {}))


def kick(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = _managed(ws, p)
    user = p.opt("user")
    if user == ws.bot_user_id:
        raise SlackError("cant_kick_self")
    ws.user_or_raise(user)
    if ch.is_general:
        raise SlackError("cant_kick_from_general")
    if user not in ch.members:
        raise SlackError("not_in_channel")
    ch.members.remove(str(user))
    return {}


def join(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    if ch.kind != "public":
        raise SlackError("method_not_supported_for_channel_type")
    ws.require_not_archived(ch)
    if ws.bot_user_id in ch.members:
        warning = "already_in_channel"
        return _channel(ws, ch, warning=warning, response_metadata={"warnings": [warning]})
    _join(ws, ch, ws.bot_user_id)
    return _channel(ws, ch)


def leave(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    if ch.kind == "im":
        raise SlackError("method_not_supported_for_channel_type")
    if ch.is_general:
        raise SlackError("cant_leave_general")
    if ws.bot_user_id not in ch.members:
        return {"not_in_channel": True}
    ch.members.remove(ws.bot_user_id)
    bot = ws.bot_user_id
    msgs.system(ws, ch, "channel_leave", bot, f"<@{bot}> has left the channel")
    return {}


def open_(ws: Workspace, p: Params) -> dict[str, Any]:
    if p.opt("channel"):
        ch = ws.channel_or_raise(p.opt("channel"))
        return {"channel": shapes.channel(ws, ch) if p.flag("return_im") else {"id": ch.id}}
    users = list(dict.fromkeys(p.csv("users")))
    if not users:
        raise SlackError("users_list_not_supplied")
    if len(users) > 8:
        raise SlackError("too_many_users")
    for user in users:
        ws.user_or_raise(user)
    others = [u for u in users if u != ws.bot_user_id] or users
    extra: dict[str, Any] = {}
    if len(others) == 1:
        if others[0] in ws.dm_index:
            extra = {"no_op": True, "already_open": True}
        ch = ws.dm_channel(others[0])
    else:
        members = {ws.bot_user_id, *others}
        found = [c for c in ws.channels.values() if c.kind == "mpim" and set(c.members) == members]
        if found:
            ch, extra = found[0], {"no_op": True, "already_open": True}
        else:
            names = [str(ws.users[u]["name"]) for u in sorted(members)]
            ch = ws.add_channel(f"mpdm-{'--'.join(names)}-1", members=sorted(members), kind="mpim")
    return {"channel": shapes.channel(ws, ch) if p.flag("return_im") else {"id": ch.id}, **extra}


def members(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    page, meta = paginate(list(ch.members), p)
    return {"members": page, "response_metadata": meta}


def _set_text(ws: Workspace, p: Params, field: str) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    ws.require_not_archived(ch)
    ws.require_bot_member(ch)
    value = p.opt(field) or ""
    if len(value) > TOPIC_MAX:
        raise SlackError("too_long")
    setattr(ch, field, {"value": value, "creator": ws.bot_user_id, "last_set": int(ws.now())})
    text = f"set the channel {field}: {value}" if value else f"cleared the channel {field}"
    msgs.system(ws, ch, f"channel_{field}", ws.bot_user_id, text, **{field: value})
    return _channel(ws, ch)


def set_topic(ws: Workspace, p: Params) -> dict[str, Any]:
    return _set_text(ws, p, "topic")


def set_purpose(ws: Workspace, p: Params) -> dict[str, Any]:
    return _set_text(ws, p, "purpose")


def rename(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = _managed(ws, p)
    ws.require_not_archived(ch)
    name = check_name(ws, p.opt("name"), current=ch)
    if name != ch.name:
        old = ch.name
        ch.previous_names.insert(0, old)
        ch.name = name
        text = f'renamed the channel from "{old}" to "{name}"'
        msgs.system(ws, ch, "channel_name", ws.bot_user_id, text, old_name=old, name=name)
    return _channel(ws, ch)


def archive(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    if ch.kind == "im":
        raise SlackError("method_not_supported_for_channel_type")
    if ch.is_general:
        raise SlackError("cant_archive_general")
    if ch.is_archived:
        raise SlackError("already_archived")
    ws.require_bot_member(ch)
    msgs.system(ws, ch, "channel_archive", ws.bot_user_id, "archived the channel")
    ch.is_archived = True
    return {}


def unarchive(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    if not ch.is_archived:
        raise SlackError("not_archived")
    ch.is_archived = False
    msgs.system(ws, ch, "channel_unarchive", ws.bot_user_id, "un-archived the channel")
    return {}


def _window(p: Params, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Apply ``oldest``/``latest``/``inclusive`` to messages."""
    inclusive = p.flag("inclusive")
    oldest = float(p.opt("oldest") or 0)
    latest = float(p.opt("latest") or "inf")
    out = []
    for message in items:
        ts = float(message["ts"])
        if (inclusive and oldest <= ts <= latest) or oldest < ts < latest:
            out.append(message)
    return out


def history(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    ws.require_bot_member(ch)
    found = _window(p, [m for m in ch.messages if msgs.in_history(m)])
    page, meta = paginate(list(reversed(found)), p, max_limit=999)
    return {
        "messages": page,
        "has_more": bool(meta["next_cursor"]),
        "pin_count": len(ch.pins),
        "channel_actions_ts": None,
        "channel_actions_count": 0,
        "response_metadata": meta,
    }


def replies(ws: Workspace, p: Params) -> dict[str, Any]:
    ch = ws.channel_or_raise(p.opt("channel"))
    ws.require_bot_member(ch)
    parent = ch.find(p.opt("ts") or "")
    if parent is not None and msgs.is_reply(parent):
        parent = ch.find(str(parent["thread_ts"]))
    if parent is None:
        raise SlackError("thread_not_found")
    thread = [parent] + [
        m for m in ch.messages if m.get("thread_ts") == parent["ts"] and m is not parent
    ]
    page, meta = paginate(_window(p, thread), p, default_limit=1000)
    return {"messages": page, "has_more": bool(meta["next_cursor"]), "response_metadata": meta}


METHODS: dict[str, Handler] = {
    "conversations.create": create,
    "conversations.info": info,
    "conversations.list": list_,
    "conversations.invite": invite,
    "conversations.kick": kick,
    "conversations.join": join,
    "conversations.leave": leave,
    "conversations.open": open_,
    "conversations.members": members,
    "conversations.setTopic": set_topic,
    "conversations.setPurpose": set_purpose,
    "conversations.rename": rename,
    "conversations.archive": archive,
    "conversations.unarchive": unarchive,
    "conversations.history": history,
    "conversations.replies": replies,
}
