"""When reminders fall due: the configuration parsers and the pure planning rules.

Nothing here touches the database or Slack; `bot.reminders` stores what these rules decide.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.core.vocabulary import Severity

if TYPE_CHECKING:
    from bot.settings import Settings

DEFAULT_INTERVALS = "sev1=15m,sev2=30m,sev3=1h,sev4=off"
INTERVALS_FORM = (
    "a comma-separated list like sev1=15m,sev2=30m,sev3=1h,sev4=off "
    "(severities sev1-sev4; a whole number with unit s, m or h; off disables)"
)
DURATION_FORM = "a whole number with unit s, m or h (for example 5m), or off"
QUIET_FORM = (
    "empty (off) or rules like sev3,sev4@22:00-08:00 (severities@HH:MM-HH:MM in "
    "QUIET_HOURS_TZ; several rules separated by ';')"
)
SNOOZE_CHOICES = (15, 30, 60)  # minutes offered on a reminder
DEFAULT_LEASE = timedelta(seconds=30)

_DURATION = re.compile(r"^(\d+)\s*([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}
_QUIET_RULE = re.compile(r"^(?P<sevs>[^@]+)@(?P<start>\d{1,2}:\d{2})-(?P<end>\d{1,2}:\d{2})$")


class Kind(StrEnum):
    """The two kinds of reminder an open incident has (stored in `reminder.kind`)."""

    UPDATE = "update"  # no status update for the severity's interval
    NO_MANAGER = "no_manager"  # nobody holds the incident manager role


def parse_duration(text: str) -> timedelta | None:
    """`90s`, `5m`, `1h` -> timedelta; `off` -> None; ValueError naming the valid form."""
    value = text.strip().lower()
    if value == "off":
        return None
    match = _DURATION.match(value)
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(f"`{text.strip()}` is not a duration: use {DURATION_FORM}")
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def parse_intervals(text: str) -> dict[Severity, timedelta | None]:
    """`sev1=15m,sev2=30m,...` -> interval per severity (None: off); unlisted keep defaults."""
    result: dict[Severity, timedelta | None] = {}
    if text.strip() != DEFAULT_INTERVALS:
        result = parse_intervals(DEFAULT_INTERVALS)
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, amount = part.partition("=")
        try:
            severity = Severity(name.strip().lower())
            if not sep:
                raise ValueError(part)
            result[severity] = parse_duration(amount)
        except ValueError:
            raise ValueError(f"`{part}` is not understood: use {INTERVALS_FORM}") from None
    return result


def _parse_clock(text: str) -> time:
    hours, minutes = (int(x) for x in text.split(":"))
    if hours > 23 or minutes > 59:
        raise ValueError(text)
    return time(hours, minutes)


@dataclass(frozen=True)
class QuietRule:
    """Reminders for these severities wait while the local clock is in [start, end)."""

    severities: frozenset[Severity]
    start: time
    end: time

    def end_of_window(self, local: datetime) -> datetime | None:
        """The local end of the window `local` falls in, or None when outside it."""
        clock = local.time().replace(tzinfo=None)
        if self.start <= self.end:
            inside = self.start <= clock < self.end
            end_day = local.date()
        elif clock >= self.start:
            inside, end_day = True, local.date() + timedelta(days=1)
        else:
            inside, end_day = clock < self.end, local.date()
        if not inside:
            return None
        return datetime.combine(end_day, self.end, tzinfo=local.tzinfo)


@dataclass(frozen=True)
class QuietHours:
    """Quiet-hours rules in one time zone."""

    rules: tuple[QuietRule, ...]
    tz: ZoneInfo

    def defer(self, at: datetime, severity: Severity) -> datetime:
        """`at`, or the end of the quiet window it falls in for this severity."""
        for _ in range(len(self.rules) + 1):
            moved = False
            for rule in self.rules:
                if severity not in rule.severities:
                    continue
                end = rule.end_of_window(at.astimezone(self.tz))
                if end is not None and end > at:
                    at, moved = end.astimezone(at.tzinfo), True
            if not moved:
                break
        return at


def parse_timezone(text: str) -> ZoneInfo:
    """An IANA time zone such as Europe/Paris; ValueError otherwise."""
    try:
        return ZoneInfo(text.strip() or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"`{text}` is not a time zone: use an IANA name such as UTC or Europe/Paris"
        ) from None


def parse_quiet_hours(text: str, tz: str = "UTC") -> QuietHours | None:
    """`sev3,sev4@22:00-08:00[;...]` -> QuietHours; empty -> None; ValueError otherwise."""
    if not text.strip():
        return None
    rules = []
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        match = _QUIET_RULE.match(part.replace(" ", ""))
        try:
            if match is None:
                raise ValueError(part)
            sevs = frozenset(Severity(s.lower()) for s in match.group("sevs").split(",") if s)
            start, end = _parse_clock(match.group("start")), _parse_clock(match.group("end"))
            if start == end or not sevs:
                raise ValueError(part)
        except ValueError:
            raise ValueError(f"`{part}` is not understood: use {QUIET_FORM}") from None
        rules.append(QuietRule(sevs, start, end))
    return QuietHours(tuple(rules), parse_timezone(tz)) if rules else None


@dataclass(frozen=True)
class Plan:
    """The facts a reminder's next due time is computed from."""

    kind: str
    severity: Severity
    is_open: bool
    anchor_at: datetime | None
    last_sent_at: datetime | None
    sent_count: int
    snoozed_until: datetime | None


@dataclass(frozen=True)
class ReminderPolicy:
    """Every reminder setting, parsed."""

    intervals: dict[Severity, timedelta | None] = field(
        default_factory=lambda: parse_intervals(DEFAULT_INTERVALS)
    )
    nudge_after: timedelta | None = timedelta(minutes=5)
    nudge_max: int = 3
    quiet: QuietHours | None = None
    lease: timedelta = DEFAULT_LEASE

    @classmethod
    def from_settings(cls, settings: Settings) -> ReminderPolicy:
        """The policy the settings describe (they were validated at start-up)."""
        return cls(
            intervals=parse_intervals(settings.reminder_intervals),
            nudge_after=parse_duration(settings.no_manager_nudge_after),
            nudge_max=settings.no_manager_nudge_max,
            quiet=parse_quiet_hours(settings.quiet_hours, settings.quiet_hours_tz),
            lease=timedelta(seconds=settings.reminder_lease_seconds),
        )

    def due_at(self, plan: Plan) -> datetime | None:
        """When the next reminder of this kind goes out, or None for never."""
        if not plan.is_open or plan.anchor_at is None:
            return None
        base = max(plan.anchor_at, plan.last_sent_at or plan.anchor_at)
        if plan.kind == Kind.UPDATE:
            interval = self.intervals.get(plan.severity)
            if interval is None:
                return None
            due = base + interval
            if plan.snoozed_until is not None and plan.snoozed_until > due:
                due = plan.snoozed_until
        else:
            if self.nudge_after is None or plan.sent_count >= self.nudge_max:
                return None
            due = base + self.nudge_after
        return self.quiet.defer(due, plan.severity) if self.quiet else due
