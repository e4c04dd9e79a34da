"""The ``/_emulator/`` control API, for driving a running emulator from another process.

==========================  ==================================================================
``GET  info``               team, bot, users and channels
``POST trigger_id``         ``{"user": ...}`` -> ``{"trigger_id": ...}``
``POST response_url``       ``{"channel", "user", "message_ts"}`` -> ``{"response_url": ...}``
``GET  responses?since=``   what was posted to response URLs (``since``: epoch seconds)
``GET  calls?since=``       recorded Web API calls (``&method=`` to filter)
``GET  messages?channel=``  a channel's messages, replies included (``&since=`` a ts)
``POST reset``              ``SlackEmulator.reset()``
==========================  ==================================================================
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from .transport import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from .server import SlackEmulator


def _info(emu: SlackEmulator) -> dict[str, Any]:
    with emu.ws.lock:
        users = [
            {"id": u["id"], "name": u["name"], "is_bot": u["is_bot"]} for u in emu.ws.users.values()
        ]
        channels = [
            {"id": c.id, "name": c.name, "is_private": c.is_private}
            for c in emu.ws.channels.values()
            if c.kind in ("public", "private")
        ]
    return {
        "team_id": emu.team_id,
        "team_domain": emu.team_domain,
        "api_app_id": emu.app_id,
        "bot_user_id": emu.bot_user_id,
        "api_url": emu.api_url,
        "users": users,
        "channels": channels,
    }


def handle(emu: SlackEmulator, req: HttpRequest, action: str) -> HttpResponse:
    query = dict(parse_qsl(req.query))
    try:
        body: dict[str, Any] = json.loads(req.body) if req.body.strip() else {}
    except ValueError:
        return HttpResponse.json(400, {"ok": False, "error": "invalid_json"})
    since = float(query.get("since") or 0)
    if action == "info":
        return HttpResponse.json(200, {"ok": True, **_info(emu)})
    if action == "trigger_id" and req.method == "POST":
        trigger_id = emu.issue_trigger_id(body.get("user"))
        return HttpResponse.json(200, {"ok": True, "trigger_id": trigger_id})
    if action == "response_url" and req.method == "POST":
        url = emu.new_response_url(
            channel=body.get("channel"), user=body.get("user"), message_ts=body.get("message_ts")
        )
        return HttpResponse.json(200, {"ok": True, "response_url": url})
    if action == "responses":
        found = [r for r in emu.responses if r["at"] >= since]
        return HttpResponse.json(200, {"ok": True, "responses": found})
    if action == "calls":
        method = query.get("method")
        calls = [
            c.to_dict()
            for c in emu.calls
            if c.at >= since and (method is None or c.method == method)
        ]
        return HttpResponse.json(200, {"ok": True, "calls": calls})
    if action == "messages":
        try:
            found = emu.messages(query.get("channel", ""), include_replies=True)
        except KeyError:
            return HttpResponse.json(404, {"ok": False, "error": "channel_not_found"})
        found = [m for m in found if float(m["ts"]) > since]
        return HttpResponse.json(200, {"ok": True, "messages": found})
    if action == "reset" and req.method == "POST":
        emu.reset()
        return HttpResponse.json(200, {"ok": True})
    return HttpResponse.json(404, {"ok": False, "error": "unknown_control_action"})
