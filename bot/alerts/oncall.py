"""Who is on call: weekly rotations with a handover time, and overrides.

A schedule hands over once a week at a local time (`monday 09:00` in its time zone). Its
`start` is a handover day: the first person is on call for the week from that handover, the
next person the week after, and so on round the list (weeks before `start` count backwards,
so the rotation is defined at any time). An override puts someone else on call between two
times; the last override listed wins where they overlap. Every function takes the time to
answer for: no clock is read here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HANDOVER = re.compile(r"^\s*([a-z]+)\s+(\d{1,2}):(\d{2})\s*$", re.IGNORECASE)
USER_ID = re.compile(r"^[UW][A-Z0-9]{2,20}$")


@dataclass(frozen=True)
class Override:
    """`user` is on call from `start` until `end` (aware times)."""

    user: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Shift:
    """Someone on call, and the times their shift began and ends."""

    user: str
    start: datetime
    end: datetime
    override: bool = False


@dataclass(frozen=True)
class Schedule:
    """A weekly rotation of Slack users."""

    name: str
    people: tuple[str, ...]
    timezone: ZoneInfo
    handover_day: int  # 0 is Monday
    handover_time: time
    start: date
    overrides: tuple[Override, ...] = ()

    def _handover(self, day: date) -> datetime:
        return datetime.combine(day, self.handover_time, tzinfo=self.timezone).astimezone(UTC)

    def rotation_shift(self, at: datetime) -> Shift:
        """Whose week it is at `at` by the rotation alone (overrides aside)."""
        local = at.astimezone(self.timezone)
        day = local.date() - timedelta(days=(local.weekday() - self.handover_day) % 7)
        if at.astimezone(UTC) < self._handover(day):
            day -= timedelta(days=7)
        weeks = (day - self.start).days // 7
        user = self.people[weeks % len(self.people)]
        return Shift(user, self._handover(day), self._handover(day + timedelta(days=7)))

    def shift(self, at: datetime) -> Shift:
        """Who is on call at `at`, overrides first."""
        for override in reversed(self.overrides):
            if override.start <= at < override.end:
                return Shift(override.user, override.start, override.end, override=True)
        return self.rotation_shift(at)

    def on_call(self, at: datetime) -> str:
        """The Slack user id of the person on call at `at`."""
        return self.shift(at).user


# --- Reading schedules from the rules file ----------------------------------------------------


def parse_handover(value: Any) -> tuple[int, time]:
    """`monday 09:00` -> (0, 09:00); ValueError saying the form."""
    match = _HANDOVER.match(str(value or ""))
    form = "a weekday and a time, like `monday 09:00`"
    if match is None:
        raise ValueError(f"{value!r} is not {form}")
    day = match.group(1).lower()
    names = [name for name in WEEKDAYS if name.startswith(day) and len(day) >= 3]
    hour, minute = int(match.group(2)), int(match.group(3))
    if len(names) != 1 or hour > 23 or minute > 59:
        raise ValueError(f"{value!r} is not {form}")
    return WEEKDAYS.index(names[0]), time(hour, minute)


def parse_zone(value: Any) -> ZoneInfo:
    """An IANA time zone name -> ZoneInfo; ValueError for an unknown one."""
    name = str(value or "UTC").strip()
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{name!r} is not an IANA time zone like Europe/Paris") from exc


def parse_date(value: Any) -> date:
    """A date (YAML's own, or YYYY-MM-DD)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a date like 2026-01-05") from exc


def parse_local_time(value: Any, zone: ZoneInfo) -> datetime:
    """A time like `2026-03-02 09:00` in `zone` (or with its own offset) -> aware UTC."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    else:
        try:
            parsed = datetime.fromisoformat(str(value).strip())
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a time like 2026-03-02 09:00") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(UTC)


def check_user(value: Any) -> str:
    """A Slack user id (U…/W…); ValueError otherwise."""
    text = str(value or "").strip()
    if not USER_ID.match(text):
        raise ValueError(f"{value!r} is not a Slack user id like U012AB3CD")
    return text
