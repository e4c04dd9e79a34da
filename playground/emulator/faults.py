"""Fault injection (errors, HTTP statuses, latency) and Slack's rate limits."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

#: Web API rate-limit tiers (requests per minute, per method, per workspace).
TIER_LIMITS = {1: 1, 2: 20, 3: 50, 4: 100}

#: Each implemented method's tier, from its page in Slack's method reference. ``auth.test`` and
#: ``chat.getPermalink`` are "special" (thousands per hour): filed under Tier 4 here.
#: ``chat.postMessage`` is special too: about 1 per second per channel, see ``RateLimiter``.
METHOD_TIERS: dict[str, int] = {
    "api.test": 4,
    "apps.connections.open": 1,
    "auth.test": 4,
    "bots.info": 4,
    "team.info": 3,
    "users.info": 4,
    "users.list": 2,
    "users.lookupByEmail": 3,
    "users.conversations": 3,
    "usergroups.list": 2,
    "usergroups.users.list": 2,
    "conversations.archive": 2,
    "conversations.create": 2,
    "conversations.history": 3,
    "conversations.info": 3,
    "conversations.invite": 3,
    "conversations.join": 3,
    "conversations.kick": 3,
    "conversations.leave": 3,
    "conversations.list": 2,
    "conversations.members": 4,
    "conversations.open": 3,
    "conversations.rename": 2,
    "conversations.replies": 3,
    "conversations.setPurpose": 2,
    "conversations.setTopic": 2,
    "conversations.unarchive": 2,
    "chat.delete": 3,
    "chat.getPermalink": 4,
    "chat.postEphemeral": 4,
    "chat.update": 3,
    "reactions.add": 3,
    "reactions.get": 3,
    "reactions.remove": 2,
    "pins.add": 2,
    "pins.list": 2,
    "pins.remove": 2,
    "bookmarks.add": 2,
    "bookmarks.edit": 2,
    "bookmarks.list": 3,
    "bookmarks.remove": 2,
    "views.open": 4,
    "views.publish": 4,
    "views.push": 4,
    "views.update": 4,
    "files.getUploadURLExternal": 4,
    "files.completeUploadExternal": 4,
    "files.info": 4,
    "files.delete": 3,
}


@dataclass
class Fault:
    """The next ``remaining`` calls to a method fail this way."""

    error: str | None
    status: int
    remaining: int
    retry_after: float | None

    def answer(self) -> tuple[int, dict[str, str], dict[str, object]]:
        """(HTTP status, extra headers, JSON body) of one failed call."""
        headers: dict[str, str] = {}
        if self.status == 429:
            seconds = 1 if self.retry_after is None else math.ceil(self.retry_after)
            headers["Retry-After"] = str(seconds)
            return 429, headers, {"ok": False, "error": self.error or "ratelimited"}
        defaults = {503: "service_unavailable", 200: "internal_error"}
        default = defaults.get(self.status, "fatal_error")
        if self.retry_after is not None:
            headers["Retry-After"] = str(math.ceil(self.retry_after))
        return self.status, headers, {"ok": False, "error": self.error or default}


class Faults:
    """Thread-safe registry of pending faults and injected latency."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: dict[str, deque[Fault]] = {}
        self._latency: dict[str | None, float] = {}

    def add(self, method: str, fault: Fault) -> None:
        with self._lock:
            self._faults.setdefault(method, deque()).append(fault)

    def take(self, method: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(method)
            if not queue:
                return None
            fault = queue[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                queue.popleft()
            return fault

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        with self._lock:
            if seconds > 0:
                self._latency[method] = seconds
            else:
                self._latency.pop(method, None)

    def latency(self, method: str) -> float:
        with self._lock:
            return self._latency.get(None, 0.0) + self._latency.get(method, 0.0)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
            self._latency.clear()


class RateLimiter:
    """Slack's per-method tiers plus chat.postMessage's per-channel limit (off by default).

    ``window`` (seconds) and the limits are attributes so a test can shrink them.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}
        self.reset()

    def reset(self) -> None:
        """Back to the defaults: disabled, Slack's limits, nothing counted."""
        with self._lock:
            self.enabled = False
            self.window = 60.0
            self.tier_limits = dict(TIER_LIMITS)
            self.method_tiers = dict(METHOD_TIERS)
            self.post_per_second = 1.0
            self.post_burst = 3
            self._hits.clear()
            self._buckets.clear()

    def check(self, method: str, channel: str | None) -> int | None:
        """Count one call; return ``Retry-After`` seconds when it is over the limit."""
        if not self.enabled:
            return None
        with self._lock:
            now = time.monotonic()
            if method == "chat.postMessage":
                return self._post(channel or "", now)
            tier = self.method_tiers.get(method)
            if tier is None:
                return None
            hits = self._hits.setdefault(method, deque())
            while hits and now - hits[0] >= self.window:
                hits.popleft()
            if len(hits) >= self.tier_limits[tier]:
                return max(1, math.ceil(self.window - (now - hits[0])))
            hits.append(now)
            return None

    def _post(self, channel: str, now: float) -> int | None:
        tokens, last = self._buckets.get(channel, (float(self.post_burst), now))
        tokens = min(float(self.post_burst), tokens + (now - last) * self.post_per_second)
        if tokens < 1.0:
            self._buckets[channel] = (tokens, now)
            return max(1, math.ceil((1.0 - tokens) / self.post_per_second))
        self._buckets[channel] = (tokens - 1.0, now)
        return None
