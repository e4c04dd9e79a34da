"""Builders for the JSON objects Slack returns (users, conversations, files, bot profiles).

Field names and types follow ``/work/shared/slack/samples/api/*.json``.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from .state import Channel, Workspace

_AVATAR = "https://a.slack-edge.com/80588/img/avatars/ava_0001-{size}.png"


def _tz_info(tz: str | None) -> tuple[str, str, int]:
    """(tz, tz_label, tz_offset seconds) for an IANA zone name."""
    if not tz:
        return "America/Los_Angeles", "Pacific Standard Time", -28800
    try:
        now = datetime.now(ZoneInfo(tz))
    except (KeyError, ValueError, OSError):
        return tz, tz, 0
    offset = now.utcoffset()
    return tz, now.tzname() or tz, int(offset.total_seconds()) if offset else 0


def _images(seed: str) -> dict[str, Any]:
    images: dict[str, Any] = {
        f"image_{size}": _AVATAR.format(size=size) for size in (24, 32, 48, 72, 192, 512)
    }
    images["avatar_hash"] = "g" + hashlib.md5(seed.encode()).hexdigest()[:11]
    return images


def user(
    ws: Workspace,
    user_id: str,
    name: str,
    *,
    real_name: str | None = None,
    email: str | None = None,
    tz: str | None = None,
    is_bot: bool = False,
    is_admin: bool = False,
    deleted: bool = False,
    display_name: str = "",
    title: str = "",
) -> dict[str, Any]:
    """A ``users.info`` user object."""
    real = real_name if real_name is not None else name
    first, _, last = real.partition(" ")
    zone, label, offset = _tz_info(tz)
    profile: dict[str, Any] = {
        "title": title,
        "phone": "",
        "skype": "",
        "real_name": real,
        "real_name_normalized": real,
        "display_name": display_name,
        "display_name_normalized": display_name,
        "fields": None,
        "status_text": "",
        "status_emoji": "",
        "status_emoji_display_info": [],
        "status_expiration": 0,
        "first_name": first,
        "last_name": last,
        "status_text_canonical": "",
        "team": ws.team_id,
        **_images(user_id),
    }
    if email:
        profile["email"] = email
    return {
        "id": user_id,
        "team_id": ws.team_id,
        "name": name,
        "deleted": deleted,
        "color": hashlib.md5(user_id.encode()).hexdigest()[:6],
        "real_name": real,
        "tz": zone,
        "tz_label": label,
        "tz_offset": offset,
        "profile": profile,
        "is_admin": is_admin,
        "is_owner": False,
        "is_primary_owner": False,
        "is_restricted": False,
        "is_ultra_restricted": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": int(ws.now()),
        "is_email_confirmed": bool(email),
        "who_can_share_contact_card": "EVERYONE",
    }


def bot_user(ws: Workspace) -> dict[str, Any]:
    data = user(ws, ws.bot_user_id, ws.bot_name, real_name=ws.bot_name, is_bot=True)
    data["profile"].update({"bot_id": ws.bot_id, "api_app_id": ws.app_id, "always_active": True})
    return data


def bot_profile(ws: Workspace) -> dict[str, Any]:
    icons = {f"image_{s}": _AVATAR.format(size=s) for s in (36, 48, 72)}
    return {
        "id": ws.bot_id,
        "deleted": False,
        "name": ws.bot_name,
        "updated": int(ws.now()),
        "app_id": ws.app_id,
        "icons": icons,
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
    }


def channel(ws: Workspace, ch: Channel, *, num_members: bool = False) -> dict[str, Any]:
    """A conversation object as ``conversations.info`` returns it."""
    if ch.kind == "im":
        data: dict[str, Any] = {
            "id": ch.id,
            "created": ch.created,
            "is_archived": ch.is_archived,
            "is_im": True,
            "is_org_shared": False,
            "context_team_id": ws.team_id,
            "updated": ch.updated,
            "user": ch.user,
            "is_user_deleted": bool(ws.users.get(ch.user or "", {}).get("deleted")),
            "priority": 0,
        }
        return data
    data = {
        "id": ch.id,
        "name": ch.name,
        "is_channel": ch.kind in ("public", "private"),
        "is_group": False,
        "is_im": False,
        "is_mpim": ch.kind == "mpim",
        "is_private": ch.is_private,
        "created": ch.created,
        "is_archived": ch.is_archived,
        "is_general": ch.is_general,
        "unlinked": 0,
        "name_normalized": ch.name,
        "is_shared": False,
        "is_org_shared": False,
        "is_ext_shared": False,
        "is_pending_ext_shared": False,
        "pending_shared": [],
        "context_team_id": ws.team_id,
        "updated": ch.updated,
        "parent_conversation": None,
        "creator": ch.creator,
        "shared_team_ids": [ws.team_id],
        "pending_connected_team_ids": [],
        "is_member": ws.bot_user_id in ch.members,
        "last_read": "0000000000.000000",
        "topic": dict(ch.topic),
        "purpose": dict(ch.purpose),
        "previous_names": list(ch.previous_names),
    }
    if num_members:
        data["num_members"] = len(ch.members)
    return data


def file(
    ws: Workspace, file_id: str, name: str, title: str, user_id: str, size: int
) -> dict[str, Any]:
    """A file object as ``files.info`` returns it (before any share)."""
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
    mimetype = _MIMETYPES.get(ext, "application/octet-stream")
    url = f"{ws.base_url}/files-pri/{ws.team_id}-{file_id}/{name}"
    now = int(ws.now())
    return {
        "id": file_id,
        "created": now,
        "timestamp": now,
        "name": name,
        "title": title,
        "mimetype": mimetype,
        "filetype": ext if ext in _MIMETYPES else "binary",
        "pretty_type": ext.upper(),
        "user": user_id,
        "user_team": ws.team_id,
        "editable": ext in ("txt", "text", "md", "csv", "json", "log"),
        "size": size,
        "mode": "hosted",
        "is_external": False,
        "external_type": "",
        "is_public": False,
        "public_url_shared": False,
        "display_as_bot": False,
        "username": "",
        "url_private": url,
        "url_private_download": url.rsplit("/", 1)[0] + f"/download/{name}",
        "permalink": f"https://{ws.team_domain}.slack.com/files/{user_id}/{file_id}/{name}",
        "permalink_public": f"https://slack-files.com/{ws.team_id}-{file_id}-{file_id[-6:]}",
        "comments_count": 0,
        "is_starred": False,
        "shares": {},
        "channels": [],
        "groups": [],
        "ims": [],
        "has_more_shares": False,
        "has_rich_preview": False,
        "file_access": "visible",
    }


_MIMETYPES = {
    "txt": "text/plain",
    "text": "text/plain",
    "md": "text/markdown",
    "csv": "text/csv",
    "json": "application/json",
    "log": "text/plain",
    "png": "image/png",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "pdf": "application/pdf",
    "zip": "application/zip",
}
