"""What people do in the Slack client, applied to the emulator's state.

:class:`SlackDriver` calls these before sending the matching Events API request, so the state
the app reads back through the Web API agrees with the events it receives.
"""

from __future__ import annotations

import copy
from typing import Any

from . import messages as msgs
from . import shapes
from .errors import SlackError
from .helpers import WorkspaceHelpers
from .methods import files as file_methods
from .methods import views as view_methods


class UserActions(WorkspaceHelpers):
    def upload_as_user(
        self, user: str, name: str, content: bytes | str, *, title: str | None = None
    ) -> dict[str, Any]:
        """Store a file a person uploaded; returns its file object (not shared yet)."""
        data = content.encode() if isinstance(content, str) else content
        with self.ws.lock:
            file_id = self.ws.new_id("F")
            meta = shapes.file(self.ws, file_id, name, title or name, user, len(data))
            self.ws.files[file_id] = meta
            self.ws.file_data[file_id] = data
            return copy.deepcopy(meta)

    def post_as_user(
        self,
        user: str,
        channel: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[dict[str, Any] | str] | None = None,
    ) -> dict[str, Any]:
        """A person posts a message (optionally with files: dicts with name/content, or ids)."""
        with self.ws.lock:
            ch = self._ch(channel)
            metas: list[dict[str, Any]] = []
            for item in files or []:
                if isinstance(item, str):
                    metas.append(self.ws.files[item])
                else:
                    uploaded = self.upload_as_user(
                        user, item["name"], item.get("content", b""), title=item.get("title")
                    )
                    metas.append(self.ws.files[uploaded["id"]])
            message = msgs.user_message(self.ws, user, text, [copy.deepcopy(m) for m in metas])
            msgs.insert(self.ws, ch, message, thread_ts)
            for meta in metas:
                file_methods.share(self.ws, meta, ch, message)
            return copy.deepcopy(message)

    def react_as_user(self, user: str, channel: str, ts: str, name: str) -> dict[str, Any]:
        """A person adds a reaction; returns the message reacted to."""
        with self.ws.lock:
            message = msgs.find_or_raise(self._ch(channel), ts)
            msgs.add_reaction(message, user, msgs.reaction_name(name))
            return copy.deepcopy(message)

    def unreact_as_user(self, user: str, channel: str, ts: str, name: str) -> dict[str, Any]:
        with self.ws.lock:
            message = msgs.find_or_raise(self._ch(channel), ts)
            msgs.remove_reaction(message, user, msgs.reaction_name(name))
            return copy.deepcopy(message)

    def edit_as_user(
        self, user: str, channel: str, ts: str, text: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A person edits a message; returns (previous, current)."""
        with self.ws.lock:
            message = msgs.find_or_raise(self._ch(channel), ts)
            previous = copy.deepcopy(message)
            message["text"] = text
            if message.get("client_msg_id"):
                message["blocks"] = msgs.user_message(self.ws, user, text)["blocks"]
            message["edited"] = {"user": user, "ts": self.ws.next_ts()}
            return previous, copy.deepcopy(message)

    def delete_message(self, channel: str, ts: str) -> dict[str, Any]:
        """Delete any message (as its author or an admin would); returns it."""
        with self.ws.lock:
            return copy.deepcopy(msgs.remove(self._ch(channel), ts))

    def join_as_user(self, user: str, channel: str) -> None:
        with self.ws.lock:
            ch = self._ch(channel)
            if user in ch.members:
                raise SlackError("already_in_channel")
            ch.members.append(user)
            msgs.system(self.ws, ch, "channel_join", user, f"<@{user}> has joined the channel")

    def leave_as_user(self, user: str, channel: str) -> None:
        with self.ws.lock:
            ch = self._ch(channel)
            if user in ch.members:
                ch.members.remove(user)
                msgs.system(self.ws, ch, "channel_leave", user, f"<@{user}> has left the channel")

    def apply_view_submission(
        self, user: str, view_id: str, response: dict[str, Any] | None
    ) -> list[str]:
        """Close/update/push the user's modal per the app's ``view_submission`` answer."""
        with self.ws.lock:
            return view_methods.apply_submission(self.ws, user, view_id, response)

    def close_view(self, user: str, view_id: str, *, cleared: bool = False) -> None:
        with self.ws.lock:
            view_methods.close_view(self.ws, user, view_id, clear=cleared)
