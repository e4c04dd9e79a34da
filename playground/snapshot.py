"""What the playground page shows, read from the emulator: one JSON-ready snapshot per poll."""

from __future__ import annotations

import copy
from typing import Any

from .world import PEOPLE, Playground


def _channels(world: Playground, user: str) -> list[dict[str, Any]]:
    """Conversations `user` sees in the sidebar: public ones, private ones they are in, and
    their DM with the bot."""
    ws = world.slack.ws
    out: list[dict[str, Any]] = []
    with ws.lock:
        for ch in ws.channels.values():
            if ch.kind == "public" or (ch.kind == "private" and user in ch.members):
                out.append(
                    {
                        "id": ch.id,
                        "name": ch.name,
                        "private": ch.is_private,
                        "archived": ch.is_archived,
                        "member": user in ch.members,
                        "kind": ch.kind,
                        "last": ch.messages[-1]["ts"] if ch.messages else "",
                    }
                )
        dm_id = ws.dm_index.get(user)
        dm = ws.channels.get(dm_id) if dm_id else None
    out.sort(key=lambda c: (c["archived"], c["name"]))
    if dm is not None:
        last = dm.messages[-1]["ts"] if dm.messages else ""
        out.append(
            {
                "id": dm.id,
                "name": ws.bot_name,
                "private": True,
                "archived": False,
                "member": True,
                "kind": "im",
                "last": last,
            }
        )
    return out


def _names(world: Playground) -> dict[str, str]:
    ws = world.slack.ws
    with ws.lock:
        names = {uid: str(u.get("real_name") or u.get("name")) for uid, u in ws.users.items()}
    names[ws.bot_user_id] = ws.bot_name
    return names


def _conversation(world: Playground, user: str, channel: str) -> dict[str, Any] | None:
    ws = world.slack.ws
    with ws.lock:
        ch = ws.channels.get(channel)
        if ch is None or (ch.kind != "public" and user not in ch.members):
            return None
        pinned = {pin["ts"] for pin in ch.pins}
        messages = [
            copy.deepcopy(m)
            for m in ch.messages
            if m.get("thread_ts") in (None, m.get("ts")) or m.get("subtype") == "thread_broadcast"
        ]
        ephemerals = [
            {**copy.deepcopy(e), "ephemeral": True}
            for e in ws.ephemerals
            if e["channel"] == channel and e["user"] == user and not e.get("thread_ts")
        ]
        info = {
            "id": ch.id,
            "name": ws.bot_name if ch.kind == "im" else ch.name,
            "kind": ch.kind,
            "private": ch.is_private,
            "archived": ch.is_archived,
            "topic": ch.topic.get("value", ""),
            "purpose": ch.purpose.get("value", ""),
            "members": list(ch.members),
            "member": user in ch.members,
            "pins": sorted(pinned),
            "bookmarks": copy.deepcopy(ch.bookmarks),
        }
    for message in messages:
        message["pinned"] = message.get("ts") in pinned
    info["messages"] = sorted(messages + ephemerals, key=lambda m: float(m.get("ts") or 0))
    return info


def _thread(world: Playground, user: str, channel: str, thread_ts: str) -> dict[str, Any]:
    ws = world.slack.ws
    with ws.lock:
        ch = ws.channels.get(channel)
        if ch is None:
            return {"ts": thread_ts, "messages": []}
        pinned = {pin["ts"] for pin in ch.pins}
        messages = [
            {**copy.deepcopy(m), "pinned": m.get("ts") in pinned}
            for m in ch.messages
            if m.get("thread_ts") == thread_ts or m.get("ts") == thread_ts
        ]
        messages += [
            {**copy.deepcopy(e), "ephemeral": True}
            for e in ws.ephemerals
            if e["channel"] == channel and e["user"] == user and e.get("thread_ts") == thread_ts
        ]
    messages.sort(key=lambda m: float(m.get("ts") or 0))
    return {"ts": thread_ts, "messages": messages}


def snapshot(
    world: Playground, user: str, channel: str | None = None, thread: str | None = None
) -> dict[str, Any]:
    """Everything the page draws for `user` looking at `channel` (and a `thread` in it)."""
    ws = world.slack.ws
    people = [
        {"key": p.key, "id": world.people[p.key], "name": p.real_name, "role": p.role}
        for p in PEOPLE
    ]
    conversation = _conversation(world, user, channel) if channel else None
    channels = _channels(world, user)
    names = _names(world)
    names.update({c["id"]: c["name"] for c in channels if c["kind"] != "im"})
    return {
        "me": user,
        "people": people,
        "bot": {"id": ws.bot_user_id, "name": ws.bot_name},
        "team": ws.team_name,
        "names": names,  # people, and the channels this person can see
        "channels": channels,
        "channel": conversation,
        "thread": _thread(world, user, channel, thread) if channel and thread else None,
        "views": world.slack.view_stack(user),
        "home": world.slack.home(user),
        "counts": {
            "calls": len(world.slack.calls),
            "mail": len(world.mailbox.messages),
            "sms": len(world.providers.texts),
            "social": len(world.providers.posts),
        },
    }


def log(
    world: Playground, after_call: int, after_request: int, after_response: int = 0
) -> dict[str, Any]:
    """Web API calls the bot made (from index `after_call`), its posts to response_url
    (from index `after_response`) and the requests the page sent it."""
    calls = world.slack.calls
    responses = world.slack.responses
    return {
        "responses": [
            {"n": n, "at": r.get("at"), "body": r.get("body"), "outcome": r.get("outcome")}
            for n, r in enumerate(responses)
            if n >= after_response
        ][-300:],
        "next_response": len(responses),
        "calls": [{"n": n, **call.to_dict()} for n, call in enumerate(calls) if n >= after_call][
            -300:
        ],
        "next_call": len(calls),
        "requests": world.requests.after(after_request),
    }
