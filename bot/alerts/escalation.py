"""Escalation policies: ordered levels of people to reach until someone acknowledges.

Each level names Slack users, a Slack user group, or an on-call schedule (whoever is on call
when the level is reached), and a delay: `after` is how long after the previous level (for
the first: after the alert arrived) this level is reached if nobody has acknowledged. Which
levels are due is a pure function of the policy, when escalation started, how many levels
were already delivered, and the time asked about: the caller brings the clock.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.alerts.oncall import Schedule

_DURATION = re.compile(r"^\s*(\d+)\s*(s|m|h|d)\s*$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
GROUP_ID = re.compile(r"^S[A-Z0-9]{2,20}$")


def parse_delay(value: object) -> timedelta:
    """`0m`, `90s`, `10m`, `1h`, `1d` (or a number of minutes) -> timedelta."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return timedelta(minutes=value)
    match = _DURATION.match(str(value))
    if match is None:
        raise ValueError(f"{value!r} is not a delay like 10m, 90s or 1h")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2).lower()])


@dataclass(frozen=True)
class Level:
    """One step of a policy: who is reached, and how long after the previous step."""

    after: timedelta
    users: tuple[str, ...] = ()
    group: str | None = None
    schedule: str | None = None
    sms: bool = False  # also text the level's people who have a phone (the rules' `phones`)


@dataclass(frozen=True)
class Targets:
    """Who a level reaches at one moment: user ids and, maybe, a user group."""

    users: tuple[str, ...]
    group: str | None = None


@dataclass(frozen=True)
class Policy:
    """An ordered list of levels."""

    name: str
    levels: tuple[Level, ...]

    def due_at(self, level: int, started_at: datetime) -> datetime:
        """When level `level` (0-based) is reached, if nobody acknowledges before."""
        return started_at + sum((lv.after for lv in self.levels[: level + 1]), timedelta())

    def next_due(self, started_at: datetime, delivered: int) -> datetime | None:
        """When the next level after `delivered` levels is reached; None after the last."""
        if delivered >= len(self.levels):
            return None
        return self.due_at(delivered, started_at)

    def due_levels(self, started_at: datetime, delivered: int, now: datetime) -> list[int]:
        """The levels (0-based) not yet delivered whose time has come at `now`, in order.

        After a pause (a restart, a long outage) several can be due at once; each is listed
        once, and levels already delivered never again.
        """
        return [
            level
            for level in range(max(delivered, 0), len(self.levels))
            if self.due_at(level, started_at) <= now
        ]

    def targets(self, level: int, schedules: dict[str, Schedule], at: datetime) -> Targets:
        """Who level `level` reaches at `at` (a schedule's on-call person at that time)."""
        step = self.levels[level]
        users = list(step.users)
        if step.schedule is not None:
            person = schedules[step.schedule].on_call(at)
            if person not in users:
                users.append(person)
        return Targets(tuple(users), step.group)

    def first_schedule(self) -> str | None:
        """The first schedule the policy reaches (the on-call person who manages)."""
        return next((lv.schedule for lv in self.levels if lv.schedule), None)
