"""Test-facing helpers of :class:`SlackEmulator`: seeding the workspace and looking into it.

Everything returned is a deep copy in Slack's shapes, safe to keep and mutate.
"""

from __future__ import annotations

import copy
from typing import Any

from . import hooks, shapes
from . import messages as msgs
from .state import Channel, Workspace


class WorkspaceHelpers:
    ws: Workspace

    # ------------------------------------------------------------------ identity

    @property
    def team_id(self) -> str:
        return self.ws.team_id

    @property
    def team_domain(self) -> str:
        return self.ws.team_domain

    @property
    def bot_user_id(self) -> str:
        return self.ws.bot_user_id

    @property
    def bot_id(self) -> str:
        return self.ws.bot_id

    @property
    def app_id(self) -> str:
        return self.ws.app_id

    # ------------------------------------------------------------------ seeding

    def add_user(
        self,
        name: str,
        *,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "America/New_York",
        is_bot: bool = False,
        is_admin: bool = False,
        deleted: bool = False,
        display_name: str = "",
        title: str = "",
        user_id: str | None = None,
    ) -> str:
        """Add a workspace member; returns its ``U...`` id."""
        with self.ws.lock:
            uid = user_id or self.ws.new_id("U")
            self.ws.users[uid] = shapes.user(
                self.ws,
                uid,
                name,
                real_name=real_name,
                email=email,
                tz=tz,
                is_bot=is_bot,
                is_admin=is_admin,
                deleted=deleted,
                display_name=display_name,
                title=title,
            )
            return uid

    def add_usergroup(
        self,
        handle: str,
        users: list[str],
        *,
        name: str | None = None,
        disabled: bool = False,
    ) -> str:
        """Add a user group (``@handle``) with these members; returns its ``S...`` id."""
        with self.ws.lock:
            group_id = self.ws.new_id("S")
            now = int(self.ws.now())
            self.ws.usergroups[group_id] = {
                "id": group_id,
                "team_id": self.ws.team_id,
                "is_usergroup": True,
                "is_subteam": True,
                "name": name or handle,
                "description": "",
                "handle": handle,
                "is_external": False,
                "date_create": now,
                "date_update": now,
                "date_delete": now if disabled else 0,
                "auto_provision": False,
                "enterprise_subteam_id": "",
                "created_by": self.ws.bot_user_id,
                "updated_by": self.ws.bot_user_id,
                "deleted_by": self.ws.bot_user_id if disabled else None,
                "prefs": {"channels": [], "groups": []},
                "users": list(dict.fromkeys(users)),
                "user_count": len(set(users)),
                "channel_count": 0,
            }
            return group_id

    def add_channel(
        self,
        name: str,
        *,
        private: bool = False,
        members: list[str] | None = None,
        bot_member: bool = True,
        topic: str = "",
        purpose: str = "",
        is_general: bool = False,
        archived: bool = False,
        creator: str | None = None,
    ) -> str:
        """Add an existing channel (no events, no join messages); returns its ``C...`` id.

        The bot is a member unless ``bot_member=False`` (private channels then stay invisible
        to it, as on Slack).
        """
        with self.ws.lock:
            people = list(members or [])
            if bot_member and self.ws.bot_user_id not in people:
                people.append(self.ws.bot_user_id)
            ch = self.ws.add_channel(
                name, private=private, members=people, creator=creator, is_general=is_general
            )
            now = int(self.ws.now())
            for key, value in (("topic", topic), ("purpose", purpose)):
                if value:
                    setattr(ch, key, {"value": value, "creator": ch.creator, "last_set": now})
            ch.is_archived = archived
            return ch.id

    def add_members(self, channel: str, *users: str) -> None:
        """Put users in a channel silently (use ``SlackDriver.user_joins`` for the event)."""
        with self.ws.lock:
            ch = self._ch(channel)
            for user in users:
                if user not in ch.members:
                    ch.members.append(user)

    def remove_members(self, channel: str, *users: str) -> None:
        """Take users out of a channel silently (as leaving or being removed does)."""
        with self.ws.lock:
            ch = self._ch(channel)
            ch.members = [member for member in ch.members if member not in users]

    def set_usergroup_users(self, group_id: str, users: list[str]) -> None:
        """Replace a user group's members (as `usergroups.users.update` does)."""
        with self.ws.lock:
            self.ws.usergroups[group_id]["users"] = list(dict.fromkeys(users))

    def seed_demo(self) -> dict[str, str]:
        """A small workspace for trying the bot by hand: 3 people, #general and #random."""
        people = {
            "alice": ("Alice Archer", "Europe/London"),
            "bob": ("Bob Baker", "America/New_York"),
            "carol": ("Carol Chen", "Asia/Tokyo"),
        }
        ids = {
            name: self.add_user(
                name, real_name=real, email=f"{name}@example.com", tz=tz, is_admin=name == "alice"
            )
            for name, (real, tz) in people.items()
        }
        everyone = list(ids.values())
        ids["general"] = self.add_channel("general", members=everyone, is_general=True)
        ids["random"] = self.add_channel("random", members=everyone)
        return ids

    def issue_trigger_id(self, user: str | None = None) -> str:
        """A fresh trigger id, as an interaction would carry (single use, short-lived)."""
        return self.ws.new_trigger(user)

    @property
    def trigger_ttl(self) -> float:
        """Seconds a trigger id stays valid (3 on Slack); tests may shorten it."""
        return self.ws.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, seconds: float) -> None:
        self.ws.trigger_ttl = seconds

    def new_response_url(
        self, *, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        return hooks.new_response_url(self.ws, channel=channel, user=user, message_ts=message_ts)

    # ------------------------------------------------------------------ looking in

    def _ch(self, ref: str) -> Channel:
        ch = self.ws.channels.get(ref) or self.ws.channel_by_name(ref)
        if ch is None:
            raise KeyError(f"no channel {ref!r}")
        return ch

    def _copy(self, value: Any) -> Any:
        with self.ws.lock:
            return copy.deepcopy(value)

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self._copy(self.ws.users.get(user_id))

    def channel(self, channel_id: str) -> dict[str, Any]:
        """A conversation as ``conversations.info`` shows it; fails the test if it is missing."""
        with self.ws.lock:
            ch = self.ws.channels.get(channel_id)
            assert ch is not None, f"no channel {channel_id!r} in the emulator"
            return shapes.channel(self.ws, ch, num_members=True)

    def channel_by_name(self, name: str) -> dict[str, Any] | None:
        with self.ws.lock:
            ch = self.ws.channel_by_name(name)
            return None if ch is None else shapes.channel(self.ws, ch, num_members=True)

    def conversation_ref(self, ref: str) -> tuple[str, str, str]:
        """(id, name, Events API ``channel_type``) of a channel given by id or name."""
        with self.ws.lock:
            ch = self._ch(ref)
            return ch.id, ch.name if ch.kind != "im" else "directmessage", ch.channel_type

    def next_ts(self) -> str:
        """A fresh, strictly increasing ``ts`` (for ``event_ts`` values)."""
        return self.ws.next_ts()

    def members(self, channel: str) -> list[str]:
        with self.ws.lock:
            return list(self._ch(channel).members)

    def messages(
        self, channel: str, *, include_replies: bool = False, include_system: bool = False
    ) -> list[dict[str, Any]]:
        """A channel's messages, oldest first (by default: top level, no join/topic notices)."""
        with self.ws.lock:
            return copy.deepcopy(
                [
                    m
                    for m in self._ch(channel).messages
                    if (include_replies or msgs.in_history(m))
                    and (include_system or m.get("subtype") not in msgs.SYSTEM_SUBTYPES)
                ]
            )

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self.ws.lock:
            return copy.deepcopy(self._ch(channel).find(ts))

    def replies(self, channel: str, thread_ts: str) -> list[dict[str, Any]]:
        """A thread's replies, oldest first (the parent not included)."""
        with self.ws.lock:
            return copy.deepcopy(
                [
                    m
                    for m in self._ch(channel).messages
                    if m.get("thread_ts") == thread_ts and m.get("ts") != thread_ts
                ]
            )

    def pins(self, channel: str) -> list[dict[str, Any]]:
        with self.ws.lock:
            ch = self._ch(channel)
            found = [ch.find(pin["ts"]) for pin in ch.pins]
            return copy.deepcopy([m for m in found if m is not None])

    def bookmarks(self, channel: str) -> list[dict[str, Any]]:
        with self.ws.lock:
            return copy.deepcopy(self._ch(channel).bookmarks)

    def reactions(self, channel: str, ts: str) -> list[dict[str, Any]]:
        message = self.message(channel, ts)
        return list(message.get("reactions", [])) if message else []

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Every view ever opened, pushed or published, by view id (latest version)."""
        return dict(self._copy(self.ws.views))

    def view(self, view_id: str) -> dict[str, Any] | None:
        return self._copy(self.ws.views.get(view_id))

    def view_stack(self, user: str) -> list[dict[str, Any]]:
        """The user's open modals, root first."""
        with self.ws.lock:
            stack = self.ws.modal_stacks.get(user, [])
            return copy.deepcopy([self.ws.views[v] for v in stack])

    def current_view(self, user: str) -> dict[str, Any] | None:
        """The modal on top of the user's stack, or ``None`` when no modal is open."""
        stack = self.view_stack(user)
        return stack[-1] if stack else None

    def modal(self, user: str) -> dict[str, Any]:
        """The modal on top of the user's stack; fails the test when none is open."""
        view = self.current_view(user)
        assert view is not None, f"no modal is open for {user}"
        return view

    def home(self, user: str) -> dict[str, Any] | None:
        with self.ws.lock:
            view_id = self.ws.home_views.get(user)
            return copy.deepcopy(self.ws.views[view_id]) if view_id else None

    def ephemerals(
        self, channel: str | None = None, user: str | None = None
    ) -> list[dict[str, Any]]:
        """Ephemeral messages (``chat.postEphemeral``, ``response_url``); ``user``: recipient."""
        with self.ws.lock:
            return copy.deepcopy(
                [
                    e
                    for e in self.ws.ephemerals
                    if (channel is None or e["channel"] == channel)
                    and (user is None or e["user"] == user)
                ]
            )

    def dm_channel_id(self, user: str) -> str:
        """The id of the bot's DM with ``user`` (opened if needed)."""
        return self.ws.dm_channel(user).id

    def dms(self, user: str) -> list[dict[str, Any]]:
        """Messages of the bot's DM with ``user``, replies included, oldest first."""
        with self.ws.lock:
            channel_id = self.ws.dm_index.get(user)
            return self.messages(channel_id, include_replies=True) if channel_id else []

    @property
    def responses(self) -> list[dict[str, Any]]:
        """Every POST to a ``response_url``: id, url, body, at, channel, user, outcome."""
        return list(self._copy(self.ws.responses))

    def file(self, file_id: str) -> dict[str, Any] | None:
        return self._copy(self.ws.files.get(file_id))

    def file_content(self, file_id: str) -> bytes:
        with self.ws.lock:
            return self.ws.file_data[file_id]
