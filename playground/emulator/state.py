"""The emulated workspace: users, conversations, messages, views, files and friends.

Everything lives in one :class:`Workspace` guarded by ``Workspace.lock`` (an ``RLock``); the
HTTP layer takes it around each Web API call and the test-facing helpers take it too.
"""

from __future__ import annotations

import itertools
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from . import shapes
from .errors import SlackError

TEAM_ID = "T0TEAM0001"
SLACKBOT_ID = "USLACKBOT"
_B36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _base36(n: int) -> str:
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = _B36[r] + out
        if n == 0:
            return out


def _blank_text() -> dict[str, Any]:
    return {"value": "", "creator": "", "last_set": 0}


@dataclass
class Channel:
    """One conversation. ``kind`` is ``public``, ``private``, ``im`` or ``mpim``."""

    id: str
    name: str
    kind: str
    created: int
    creator: str
    members: list[str] = field(default_factory=list)
    is_archived: bool = False
    is_general: bool = False
    user: str | None = None
    topic: dict[str, Any] = field(default_factory=_blank_text)
    purpose: dict[str, Any] = field(default_factory=_blank_text)
    previous_names: list[str] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    pins: list[dict[str, Any]] = field(default_factory=list)
    bookmarks: list[dict[str, Any]] = field(default_factory=list)
    updated: int = 0

    @property
    def is_private(self) -> bool:
        return self.kind != "public"

    @property
    def channel_type(self) -> str:
        """The ``channel_type`` of Events API ``message`` events."""
        return {"public": "channel", "private": "group"}.get(self.kind, self.kind)

    def find(self, ts: str) -> dict[str, Any] | None:
        for message in reversed(self.messages):
            if message.get("ts") == ts:
                return message
        return None


@dataclass
class Trigger:
    id: str
    issued: float
    user: str | None
    used: bool = False


class Workspace:
    """All state of the emulated Slack workspace."""

    def __init__(
        self,
        *,
        bot_token: str,
        team_id: str = TEAM_ID,
        team_name: str = "Emulated Workspace",
        team_domain: str = "emulated",
        bot_user_id: str = "U0BOT00001",
        bot_id: str = "B0BOT00001",
        app_id: str = "A0APP00001",
        bot_name: str = "incident-bot",
    ) -> None:
        self.lock = threading.RLock()
        self.bot_token = bot_token
        self.team_id = team_id
        self.team_name = team_name
        self.team_domain = team_domain
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.app_id = app_id
        self.bot_name = bot_name
        self.base_url = "http://127.0.0.1:0"
        self._ids = itertools.count(1)  # never reset: ids stay unique across reset()
        self._last_ts_us = 0
        self.clear()

    def clear(self) -> None:
        """Forget everything but the team and the bot (used by ``SlackEmulator.reset``)."""
        with self.lock:
            self.users: dict[str, dict[str, Any]] = {}
            self.channels: dict[str, Channel] = {}
            self.usergroups: dict[str, dict[str, Any]] = {}
            self.dm_index: dict[str, str] = {}
            self.files: dict[str, dict[str, Any]] = {}
            self.file_data: dict[str, bytes] = {}
            self.uploads: dict[str, dict[str, Any]] = {}
            self.views: dict[str, dict[str, Any]] = {}
            self.view_owner: dict[str, str] = {}
            self.modal_stacks: dict[str, list[str]] = {}
            self.home_views: dict[str, str] = {}
            self.triggers: dict[str, Trigger] = {}
            self.response_urls: dict[str, dict[str, Any]] = {}
            self.responses: list[dict[str, Any]] = []
            self.ephemerals: list[dict[str, Any]] = []
            self.trigger_ttl = 3.0
            self.response_url_max_uses = 5
            self.users[self.bot_user_id] = shapes.bot_user(self)
            self.users[SLACKBOT_ID] = shapes.user(
                self, SLACKBOT_ID, "slackbot", real_name="Slackbot", email=None, tz=None
            )

    # ------------------------------------------------------------------ ids and clocks

    def now(self) -> float:
        return time.time()

    def new_id(self, prefix: str) -> str:
        return f"{prefix}0{_base36(next(self._ids)).rjust(8, '0')}"

    def next_ts(self) -> str:
        """A message ``ts`` from the wall clock, strictly increasing within this workspace."""
        with self.lock:
            now_us = int(time.time() * 1_000_000)
            self._last_ts_us = max(now_us, self._last_ts_us + 1)
            us = self._last_ts_us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    def new_trigger(self, user: str | None) -> str:
        with self.lock:
            tid = f"{int(self.now())}.{next(self._ids)}.{secrets.token_hex(16)}"
            self.triggers[tid] = Trigger(tid, self.now(), user)
            return tid

    def exchange_trigger(self, trigger_id: str | None) -> Trigger:
        """Use up a trigger id as ``views.open``/``views.push`` do."""
        if not trigger_id:
            raise SlackError("invalid_trigger_id")
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.now() - trigger.issued > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger

    # ------------------------------------------------------------------ lookups

    def user_or_raise(self, user_id: str | None, error: str = "user_not_found") -> dict[str, Any]:
        user = self.users.get(user_id or "")
        if user is None:
            raise SlackError(error)
        return user

    def is_user(self, ref: str) -> bool:
        return ref in self.users and ref[:1] in ("U", "W")

    def channel_by_name(self, name: str) -> Channel | None:
        name = name.lstrip("#")
        for channel in self.channels.values():
            if channel.name == name and channel.kind in ("public", "private"):
                return channel
        return None

    def visible(self, channel: Channel) -> bool:
        """Private conversations are invisible to a bot that is not in them."""
        return not channel.is_private or self.bot_user_id in channel.members

    def channel_or_raise(self, ref: str | None, *, users_as_dm: bool = False) -> Channel:
        """Resolve a ``channel`` argument (id, ``#name``, or a user id when posting)."""
        if not ref:
            raise SlackError("channel_not_found")
        channel = self.channels.get(ref)
        if channel is None and users_as_dm and self.is_user(ref) and ref != self.bot_user_id:
            channel = self.dm_channel(ref)
        if channel is None and ref.startswith("#"):
            channel = self.channel_by_name(ref)
        if channel is None or not self.visible(channel):
            raise SlackError("channel_not_found")
        return channel

    def require_bot_member(self, channel: Channel) -> None:
        if self.bot_user_id not in channel.members:
            raise SlackError("not_in_channel")

    def require_not_archived(self, channel: Channel) -> None:
        if channel.is_archived:
            raise SlackError("is_archived")

    def dm_channel(self, user_id: str) -> Channel:
        """The bot's direct-message conversation with ``user_id`` (opened on first use)."""
        with self.lock:
            existing = self.dm_index.get(user_id)
            if existing is not None:
                return self.channels[existing]
            channel = Channel(
                id=self.new_id("D"),
                name=user_id,
                kind="im",
                created=int(self.now()),
                creator=self.bot_user_id,
                members=[self.bot_user_id, user_id],
                user=user_id,
                updated=int(self.now() * 1000),
            )
            self.channels[channel.id] = channel
            self.dm_index[user_id] = channel.id
            return channel

    def add_channel(
        self,
        name: str,
        *,
        private: bool = False,
        members: list[str] | None = None,
        creator: str | None = None,
        is_general: bool = False,
        kind: str | None = None,
    ) -> Channel:
        with self.lock:
            now = self.now()
            channel = Channel(
                id=self.new_id("G" if kind == "mpim" else "C"),
                name=name,
                kind=kind or ("private" if private else "public"),
                created=int(now),
                creator=creator or self.bot_user_id,
                members=list(dict.fromkeys(members or [])),
                is_general=is_general,
                updated=int(now * 1000),
            )
            self.channels[channel.id] = channel
            return channel

    def permalink(self, channel: Channel, message: dict[str, Any]) -> str:
        ts = str(message.get("ts", ""))
        link = f"https://{self.team_domain}.slack.com/archives/{channel.id}/p{ts.replace('.', '')}"
        thread_ts = message.get("thread_ts")
        if thread_ts and thread_ts != ts:
            link += f"?thread_ts={thread_ts}&cid={channel.id}"
        return link
