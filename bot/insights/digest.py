"""The weekly digest's schedule: DIGEST_SCHEDULE, like "mon 09:00" (empty: off)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class DigestSchedule:
    """Once a week, on `weekday` (0 is Monday) at `at`, in `timezone`."""

    weekday: int
    at: time
    timezone: str = "UTC"

    def period_start(self, now: datetime) -> datetime:
        """The latest scheduled moment at or before `now` (the current digest's key)."""
        zone = ZoneInfo(self.timezone)
        local = now.astimezone(zone)
        day: date = local.date() - timedelta(days=(local.weekday() - self.weekday) % 7)
        start = datetime.combine(day, self.at, tzinfo=zone)
        if start > local:
            start -= timedelta(days=7)
        return start

    def next_after(self, now: datetime) -> datetime:
        """The next scheduled moment after `now`."""
        return self.period_start(now) + timedelta(days=7)


def parse_schedule(text: str, *, timezone: str = "UTC") -> DigestSchedule | None:
    """ "mon 09:00" -> a schedule; "" or "off" -> None; anything else -> ValueError."""
    value = (text or "").strip().lower()
    if value in ("", "off"):
        return None
    day, _, clock = value.partition(" ")
    day = day[:3]
    hours, _, minutes = clock.strip().partition(":")
    if (
        day not in WEEKDAYS
        or not (hours.isdigit() and minutes.isdigit())
        or not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60)
    ):
        raise ValueError(
            f"{text!r} is not a weekly schedule; write a weekday and a time, like mon 09:00"
        )
    return DigestSchedule(WEEKDAYS.index(day), time(int(hours), int(minutes)), timezone)
