"""Who is in which private incident channel, from `conversations.members`, cached briefly.

The console, the App Home and `/incident stats` show a private incident only to its channel's
members (bot.permissions.visibility). Members of a channel are asked once per `ttl` seconds
(shared by everyone asking), so someone who leaves a channel stops seeing its incident within
a minute. A channel Slack no longer shows (deleted, or the bot removed) has no members.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)

DEFAULT_TTL = 60.0


class ChannelMembers:
    """`conversations.members` with a short cache."""

    def __init__(
        self,
        slack: WebClient,
        *,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.slack = slack
        self.ttl = ttl
        self.clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def members(self, channel_id: str) -> frozenset[str]:
        """The user ids in the channel (cached for `ttl` seconds)."""
        now = self.clock()
        with self._lock:
            cached = self._cache.get(channel_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        found = self._fetch(channel_id)
        with self._lock:
            self._cache[channel_id] = (now, found)
        return found

    def _fetch(self, channel_id: str) -> frozenset[str]:
        people: set[str] = set()
        cursor: str | None = None
        try:
            while True:
                page = self.slack.conversations_members(
                    channel=channel_id, limit=1000, cursor=cursor
                )
                people.update(str(u) for u in page.get("members") or [])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not cursor:
                    return frozenset(people)
        except SlackApiError as exc:
            log.info("no members for %s: %s", channel_id, exc.response.get("error"))
            return frozenset()

    def channels_of(self, user_id: str, channel_ids: Iterable[str]) -> frozenset[str]:
        """Those of `channel_ids` that `user_id` is a member of."""
        return frozenset(c for c in channel_ids if user_id in self.members(c))

    def forget(self, channel_id: str | None = None) -> None:
        """Drop the cache (one channel's, or all)."""
        with self._lock:
            if channel_id is None:
                self._cache.clear()
            else:
                self._cache.pop(channel_id, None)
