"""People doing things in the Slack client: stored in the emulator, then sent as events."""

from __future__ import annotations

from typing import Any

from .results import DriverResult
from .server import SlackEmulator


class PeopleMixin:
    """``SlackDriver``'s user actions; each keeps the emulator's state and the events in step."""

    team_id: str

    def _local(self) -> SlackEmulator:
        raise NotImplementedError

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> DriverResult:
        raise NotImplementedError

    def user_posts(
        self,
        user: str,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        files: list[dict[str, Any] | str] | None = None,
        *,
        mention_event: bool = True,
    ) -> str:
        """``user`` posts ``text``: stored, then a ``message`` event (and ``app_mention`` when the
        bot is mentioned). Returns the message ``ts``; the results are in ``last_result``."""
        emu = self._local()
        channel_id, _, channel_type = emu.conversation_ref(channel)
        message = emu.post_as_user(user, channel_id, text, thread_ts=thread_ts, files=files)
        event = {**message, "channel": channel_id, "event_ts": message["ts"]}
        event["channel_type"] = channel_type
        if files:
            event["subtype"] = "file_share"
        self.event(event)
        if mention_event and f"<@{emu.bot_user_id}>" in text:
            mention = {k: v for k, v in event.items() if k not in ("channel_type", "subtype")}
            self.event({**mention, "type": "app_mention"})
        return str(message["ts"])

    def _reaction(self, kind: str, user: str, channel: str, ts: str, emoji: str) -> DriverResult:
        emu = self._local()
        channel_id = emu.conversation_ref(channel)[0]
        if kind == "reaction_added":
            message = emu.react_as_user(user, channel_id, ts, emoji)
        else:
            message = emu.unreact_as_user(user, channel_id, ts, emoji)
        event = {
            "type": kind,
            "user": user,
            "item": {"type": "message", "channel": channel_id, "ts": ts},
            "reaction": emoji.strip(":"),
            "item_user": message.get("user") or message.get("bot_id"),
            "event_ts": emu.next_ts(),
        }
        return self.event(event)

    def user_reacts(self, user: str, channel: str, ts: str, emoji: str) -> DriverResult:
        return self._reaction("reaction_added", user, channel, ts, emoji)

    def user_unreacts(self, user: str, channel: str, ts: str, emoji: str) -> DriverResult:
        return self._reaction("reaction_removed", user, channel, ts, emoji)

    def user_edits(self, user: str, channel: str, ts: str, new_text: str) -> DriverResult:
        emu = self._local()
        channel_id, _, channel_type = emu.conversation_ref(channel)
        previous, current = emu.edit_as_user(user, channel_id, ts, new_text)
        event_ts = emu.next_ts()
        event = {
            "type": "message",
            "subtype": "message_changed",
            "message": current,
            "previous_message": previous,
            "channel": channel_id,
            "hidden": True,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": channel_type,
        }
        return self.event(event)

    def user_deletes(self, channel: str, ts: str) -> DriverResult:
        emu = self._local()
        channel_id, _, channel_type = emu.conversation_ref(channel)
        previous = emu.delete_message(channel_id, ts)
        event_ts = emu.next_ts()
        event = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": ts,
            "channel": channel_id,
            "previous_message": previous,
            "event_ts": event_ts,
            "ts": event_ts,
            "channel_type": channel_type,
        }
        return self.event(event)

    def user_joins(self, user: str, channel: str, *, inviter: str | None = None) -> DriverResult:
        emu = self._local()
        channel_id, _, channel_type = emu.conversation_ref(channel)
        emu.join_as_user(user, channel_id)
        event = {
            "type": "member_joined_channel",
            "user": user,
            "channel": channel_id,
            "channel_type": "G" if channel_type == "group" else "C",
            "team": self.team_id,
            "event_ts": emu.next_ts(),
        }
        if inviter:
            event["inviter"] = inviter
        return self.event(event)

    def app_home_opened(self, user: str) -> DriverResult:
        emu = self._local()
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": emu.dm_channel_id(user),
            "tab": "home",
            "event_ts": emu.next_ts(),
        }
        home = emu.home(user)
        if home is not None:
            event["view"] = home
        return self.event(event)
