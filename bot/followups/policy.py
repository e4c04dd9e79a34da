"""When owners of action items and post-mortems are reminded: pure rules, no database.

Reminders go out at FOLLOWUP_REMINDER_TIME in FOLLOWUP_TIMEZONE, from the due date on, at
most once a day, until the item is done or the post-mortem complete.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.reminders.policy import DEFAULT_LEASE, parse_timezone

if TYPE_CHECKING:
    from bot.settings import Settings

_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")


class Kind(StrEnum):
    """What a follow-up reminder is about."""

    ACTION_ITEM = "action_item"
    POSTMORTEM = "postmortem"


def parse_time_of_day(text: str) -> time:
    """`09:00` -> time(9, 0); ValueError naming the form."""
    match = _CLOCK.match(text.strip())
    if match is None or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f"`{text.strip()}` is not a time of day: use HH:MM, for example 09:00")
    return time(int(match.group(1)), int(match.group(2)))


def add_working_days(start: date, days: int) -> date:
    """The date `days` working days (Monday to Friday) after `start`."""
    current, left = start, days
    while left > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


@dataclass(frozen=True)
class FollowUpPolicy:
    """When owners are reminded: a time of day in a time zone, once a day from the due date."""

    remind_at: time = time(9, 0)
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    lease: timedelta = DEFAULT_LEASE
    due_working_days: int = 5

    @classmethod
    def from_settings(cls, settings: Settings) -> FollowUpPolicy:
        """The policy the settings describe (validated at start-up)."""
        return cls(
            remind_at=parse_time_of_day(settings.followup_reminder_time),
            tz=parse_timezone(settings.followup_timezone),
            lease=timedelta(seconds=settings.reminder_lease_seconds),
            due_working_days=settings.postmortem_due_working_days,
        )

    def today(self, now: datetime) -> date:
        """The team's date at `now`."""
        return now.astimezone(self.tz).date()

    def slot(self, day: date) -> datetime:
        """The reminder time on `day`, as an aware datetime."""
        return datetime.combine(day, self.remind_at, tzinfo=self.tz)

    def next_due(self, *, due_on: date | None, last_sent_at: datetime | None) -> datetime | None:
        """The due date's reminder time, or the next day's after the last reminder sent."""
        if due_on is None:
            return None
        day = due_on
        if last_sent_at is not None:
            day = max(day, self.today(last_sent_at) + timedelta(days=1))
        return self.slot(day)

    def postmortem_due(self, resolved_at: datetime) -> date:
        """The post-mortem's due date: working days after the day it was resolved."""
        return add_working_days(self.today(resolved_at), self.due_working_days)

    def key(self, kind: str, subject_id: int, now: datetime) -> str:
        """The unique key of today's reminder about one subject."""
        return f"{kind}-{subject_id}-{self.today(now):%Y%m%d}"
