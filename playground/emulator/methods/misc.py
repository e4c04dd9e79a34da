"""auth.test, api.test, team.info and the users.* methods."""

from __future__ import annotations

from typing import Any

from .. import shapes
from ..errors import SlackError
from ..params import Params
from ..state import Workspace
from ._base import Handler, paginate


def auth_test(ws: Workspace, p: Params) -> dict[str, Any]:
    return {
        "url": f"https://{ws.team_domain}.slack.com/",
        "team": ws.team_name,
        "user": ws.bot_name,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


def bots_info(ws: Workspace, p: Params) -> dict[str, Any]:
    """Only the workspace's own bot is known (a bot id is needed, as on Slack)."""
    bot = p.opt("bot")
    if not bot:
        raise SlackError("invalid_arguments")
    if bot != ws.bot_id:
        raise SlackError("bot_not_found")
    profile = shapes.bot_profile(ws)
    return {
        "bot": {
            k: profile[k]
            for k in ("id", "deleted", "name", "updated", "app_id", "user_id", "icons")
        }
    }


def api_test(ws: Workspace, p: Params) -> dict[str, Any]:
    args = {k: v for k, v in p.data.items() if isinstance(v, str)}
    if p.opt("error"):
        raise SlackError(str(p.opt("error")), extra={"args": args})
    return {"args": args} if args else {}


def team_info(ws: Workspace, p: Params) -> dict[str, Any]:
    icon: dict[str, Any] = {
        f"image_{s}": f"https://a.slack-edge.com/team_{s}.png" for s in (34, 44, 68, 88)
    }
    icon["image_default"] = True
    team = {
        "id": ws.team_id,
        "name": ws.team_name,
        "url": f"https://{ws.team_domain}.slack.com/",
        "domain": ws.team_domain,
        "email_domain": "",
        "icon": icon,
        "avatar_base_url": "https://ca.slack-edge.com/",
        "is_verified": False,
    }
    return {"team": team}


def users_info(ws: Workspace, p: Params) -> dict[str, Any]:
    return {"user": ws.user_or_raise(p.opt("user"))}


def users_list(ws: Workspace, p: Params) -> dict[str, Any]:
    page, meta = paginate(list(ws.users.values()), p, default_limit=1000)
    return {"members": page, "cache_ts": int(ws.now()), "response_metadata": meta}


def users_lookup_by_email(ws: Workspace, p: Params) -> dict[str, Any]:
    email = (p.opt("email") or "").lower()
    for user in ws.users.values():
        if email and str(user["profile"].get("email", "")).lower() == email:
            return {"user": user}
    raise SlackError("users_not_found")


def users_conversations(ws: Workspace, p: Params) -> dict[str, Any]:
    user = p.opt("user") or ws.bot_user_id
    ws.user_or_raise(user)
    types = set(p.csv("types") or ["public_channel"])
    kinds = {"public_channel": "public", "private_channel": "private", "im": "im", "mpim": "mpim"}
    wanted = {kinds[t] for t in types if t in kinds}
    found = [
        shapes.channel(ws, ch)
        for ch in ws.channels.values()
        if ch.kind in wanted
        and user in ch.members
        and ws.visible(ch)
        and not (p.flag("exclude_archived") and ch.is_archived)
    ]
    page, meta = paginate(found, p)
    return {"channels": page, "response_metadata": meta}


METHODS: dict[str, Handler] = {
    "auth.test": auth_test,
    "api.test": api_test,
    "bots.info": bots_info,
    "team.info": team_info,
    "users.info": users_info,
    "users.list": users_list,
    "users.lookupByEmail": users_lookup_by_email,
    "users.conversations": users_conversations,
}
