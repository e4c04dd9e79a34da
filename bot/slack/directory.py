"""Looking things up in Slack: the bot's own user id, people's names, messages and their links.

One `SlackDirectory` per process, built with `Services` and shared by every part of the Slack
side. It is the only caller of `auth.test` and `chat.getPermalink`; what does not change
(the bot's user id, people's display names) is asked once and remembered.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.core import slack_text

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MessageRef:
    """Where a message lives."""

    channel_id: str
    ts: str


class SlackDirectory:
    """The bot's user id, display names, messages and permalinks, as Slack tells them."""

    def __init__(self, slack: WebClient) -> None:
        self.slack = slack
        self._bot_user_id: str | None = None
        self._team_id: str | None = None
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()

    def bot_user_id(self) -> str:
        """The bot's own user id (asked once, with `auth.test`)."""
        if self._bot_user_id is None:
            self._auth_test()
        assert self._bot_user_id is not None
        return self._bot_user_id

    def team_id(self) -> str:
        """The id of the bot's workspace (asked once, with `auth.test`)."""
        if self._team_id is None:
            self._auth_test()
        assert self._team_id is not None
        return self._team_id

    def auth(self) -> dict[str, Any]:
        """Slack's `auth.test` answer (the bot's user, team, enterprise, bot and app ids),
        asked now; the bot's user id and team are remembered."""
        answer = dict(self.slack.auth_test().data)  # type: ignore[arg-type]
        with self._lock:
            self._bot_user_id = str(answer["user_id"])
            self._team_id = str(answer["team_id"])
        return answer

    def _auth_test(self) -> None:
        self.auth()

    def user(self, user_id: str) -> dict[str, Any] | None:
        """A person's `users.info` record (not remembered), or None when Slack has none."""
        try:
            return dict(self.slack.users_info(user=user_id)["user"])
        except SlackApiError as exc:
            log.info("no user %s: %s", user_id, exc.response.get("error"))
            return None

    def user_name(self, user_id: str) -> str | None:
        """A person's display name (remembered), or None when Slack does not know them."""
        with self._lock:
            if user_id in self._names:
                return self._names[user_id]
        try:
            user = self.slack.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            log.info("no name for %s: %s", user_id, exc.response.get("error"))
            return None
        profile = user.get("profile") or {}
        name = str(
            profile.get("display_name")
            or profile.get("real_name")
            or user.get("real_name")
            or user.get("name")
            or user_id
        )
        with self._lock:
            self._names[user_id] = name
        return name

    def readable(self, text: str) -> str:
        """Slack markup with mentions and links rendered readably (names looked up here)."""
        return slack_text.render(text, user_name=self.user_name)

    def message(self, ref: MessageRef) -> dict[str, Any] | None:
        """The message with its reactions and permalink, or None when it is gone."""
        try:
            response = self.slack.reactions_get(channel=ref.channel_id, timestamp=ref.ts, full=True)
        except SlackApiError as exc:
            if exc.response.get("error") in ("message_not_found", "no_item_specified"):
                return None
            raise
        message = response.get("message")
        return dict(message) if isinstance(message, dict) else None

    def permalink(self, ref: MessageRef) -> str | None:
        """A link to the message (`chat.getPermalink`), or None when Slack will not give one."""
        try:
            answer = self.slack.chat_getPermalink(channel=ref.channel_id, message_ts=ref.ts)
            return str(answer["permalink"])
        except SlackApiError as exc:
            log.info(
                "no permalink for %s/%s: %s", ref.channel_id, ref.ts, exc.response.get("error")
            )
            return None
