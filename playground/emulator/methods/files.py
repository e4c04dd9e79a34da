"""The files.* methods behind ``WebClient.files_upload_v2`` (plus files.info and files.delete).

The upload itself goes to the ``upload_url`` that ``files.getUploadURLExternal`` hands out,
served by the emulator (see ``SlackEmulator``); its bytes land in ``Workspace.file_data``.
"""

from __future__ import annotations

import copy
from typing import Any

from .. import messages as msgs
from .. import shapes
from ..errors import SlackError, invalid_arguments, missing_field
from ..params import Params
from ..state import Channel, Workspace
from ._base import Handler


def get_upload_url(ws: Workspace, p: Params) -> dict[str, Any]:
    filename = p.opt("filename")
    if not filename:
        raise missing_field("filename")
    if p.opt("length") is None:
        raise missing_field("length")
    length = p.num("length", 0)
    if length < 1:
        raise SlackError("invalid_length")
    file_id = ws.new_id("F")
    ws.uploads[file_id] = {
        "filename": filename,
        "length": length,
        "alt_txt": p.opt("alt_txt"),
        "snippet_type": p.opt("snippet_type"),
    }
    return {"upload_url": f"{ws.base_url}/upload/v1/{file_id}", "file_id": file_id}


def share(ws: Workspace, meta: dict[str, Any], channel: Channel, message: dict[str, Any]) -> None:
    """Record on a file that it was shared into ``channel`` by ``message``."""
    entry: dict[str, Any] = {
        "reply_users": [],
        "reply_users_count": 0,
        "reply_count": 0,
        "ts": message["ts"],
        "channel_name": channel.name,
        "team_id": ws.team_id,
        "share_user_id": message.get("user", ""),
        "source": "UNKNOWN",
    }
    if msgs.is_reply(message):
        entry["thread_ts"] = message["thread_ts"]
    bucket = "public" if channel.kind == "public" else "private"
    meta["shares"].setdefault(bucket, {}).setdefault(channel.id, []).append(entry)
    key = {"public": "channels", "private": "groups", "mpim": "groups", "im": "ims"}[channel.kind]
    if channel.id not in meta[key]:
        meta[key].append(channel.id)


def complete_upload(ws: Workspace, p: Params) -> dict[str, Any]:
    files = p.raw("files")
    if not isinstance(files, list) or not files:
        raise invalid_arguments("missing required field: files")
    targets = [p.opt("channel_id")] if p.opt("channel_id") else p.csv("channels")
    channels = [ws.channel_or_raise(ref) for ref in targets]
    for ch in channels:
        ws.require_not_archived(ch)
        ws.require_bot_member(ch)
    done: list[dict[str, Any]] = []
    for item in files:
        file_id = str(item.get("id", "")) if isinstance(item, dict) else ""
        pending = ws.uploads.get(file_id)
        if pending is None or file_id not in ws.file_data:
            raise SlackError("file_not_found")
        title = item.get("title") or pending["filename"]
        size = len(ws.file_data[file_id])
        meta = shapes.file(ws, file_id, pending["filename"], title, ws.bot_user_id, size)
        if pending.get("alt_txt"):
            meta["alt_txt"] = pending["alt_txt"]
        done.append(meta)
    for meta in done:
        del ws.uploads[meta["id"]]
        ws.files[meta["id"]] = meta
    for ch in channels:
        message = msgs.bot_message(
            ws,
            text=p.opt("initial_comment") or "",
            files=[copy.deepcopy(m) for m in done],
            upload=True,
            display_as_bot=False,
        )
        msgs.insert(ws, ch, message, p.opt("thread_ts"))
        for meta in done:
            share(ws, meta, ch, message)
    return {"files": done}


def info(ws: Workspace, p: Params) -> dict[str, Any]:
    meta = ws.files.get(p.opt("file") or "")
    if meta is None:
        raise SlackError("file_not_found")
    data = ws.file_data.get(meta["id"], b"")
    content = data.decode("utf-8", "replace") if meta["mimetype"].startswith("text/") else ""
    return {
        "file": meta,
        "content": content,
        "comments": [],
        "response_metadata": {"next_cursor": ""},
    }


def delete(ws: Workspace, p: Params) -> dict[str, Any]:
    file_id = p.opt("file") or ""
    if file_id not in ws.files:
        raise SlackError("file_not_found")
    if ws.files[file_id]["user"] != ws.bot_user_id:
        raise SlackError("cant_delete_file")
    del ws.files[file_id]
    ws.file_data.pop(file_id, None)
    return {}


METHODS: dict[str, Handler] = {
    "files.getUploadURLExternal": get_upload_url,
    "files.completeUploadExternal": complete_upload,
    "files.info": info,
    "files.delete": delete,
}
