"""Reminder settings: parsing, validation at start-up, quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.core.errors import ConfigError
from bot.core.vocabulary import Severity
from bot.reminders.policy import (
    Kind,
    Plan,
    ReminderPolicy,
    parse_duration,
    parse_intervals,
    parse_quiet_hours,
)
from bot.settings import load_settings


def test_intervals() -> None:
    assert parse_intervals("sev1=15m,sev2=30m,sev3=1h,sev4=off") == {
        Severity.SEV1: timedelta(minutes=15),
        Severity.SEV2: timedelta(minutes=30),
        Severity.SEV3: timedelta(hours=1),
        Severity.SEV4: None,
    }
    # Unlisted severities keep their default; case and spaces do not matter.
    assert parse_intervals(" SEV1 = 90s ")[Severity.SEV1] == timedelta(seconds=90)
    assert parse_intervals("sev1=90s")[Severity.SEV3] == timedelta(hours=1)
    assert parse_intervals("sev4=2h")[Severity.SEV4] == timedelta(hours=2)


@pytest.mark.parametrize(
    "text", ["sev1", "sev1=", "sev1=15", "sev1=0m", "sev1=15d", "sev5=1m", "15m", "sev1=-1m"]
)
def test_bad_intervals(text: str) -> None:
    with pytest.raises(ValueError, match="sev1=15m,sev2=30m,sev3=1h,sev4=off"):
        parse_intervals(text)


def test_durations() -> None:
    assert parse_duration("5m") == timedelta(minutes=5)
    assert parse_duration("OFF") is None
    with pytest.raises(ValueError, match="unit s, m or h"):
        parse_duration("5 minutes")


@pytest.mark.parametrize(
    ("key", "value", "shown"),
    [
        ("reminder_intervals", "sev1=soon", "REMINDER_INTERVALS"),
        ("no_manager_nudge_after", "5", "NO_MANAGER_NUDGE_AFTER"),
        ("quiet_hours", "sev3@22-08", "QUIET_HOURS"),
        ("quiet_hours_tz", "Mars/Olympus", "QUIET_HOURS_TZ"),
        ("no_manager_nudge_max", "-1", "NO_MANAGER_NUDGE_MAX"),
        ("scheduler_tick_seconds", "0", "SCHEDULER_TICK_SECONDS"),
        ("reminder_lease_seconds", "1", "REMINDER_LEASE_SECONDS"),
    ],
)
def test_a_bad_setting_stops_start_up_naming_it(key: str, value: str, shown: str) -> None:
    with pytest.raises(ConfigError, match=shown):
        load_settings(env_file=None, **{key: value})


def test_policy_from_settings() -> None:
    settings = load_settings(
        env_file=None,
        reminder_intervals="sev1=10s",
        no_manager_nudge_after="off",
        quiet_hours="sev4@22:00-07:00",
        quiet_hours_tz="America/New_York",
    )
    policy = ReminderPolicy.from_settings(settings)
    assert policy.intervals[Severity.SEV1] == timedelta(seconds=10)
    assert policy.nudge_after is None
    assert policy.quiet is not None and str(policy.quiet.tz) == "America/New_York"
    assert ReminderPolicy.from_settings(load_settings(env_file=None)).quiet is None


def at(hour: int, minute: int = 0, day: int = 2) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "severity", "expected"),
    [
        (at(23), Severity.SEV3, at(8, day=3)),  # in the window, before midnight
        (at(3), Severity.SEV4, at(8)),  # in the window, after midnight
        (at(8), Severity.SEV3, at(8)),  # the end is not quiet
        (at(21, 59), Severity.SEV3, at(21, 59)),
        (at(23), Severity.SEV2, at(23)),  # not a quiet severity
        (at(12, 30), Severity.SEV4, at(13)),  # a second rule
    ],
)
def test_quiet_hours(when: datetime, severity: Severity, expected: datetime) -> None:
    quiet = parse_quiet_hours("sev3,sev4@22:00-08:00; sev4@12:00-13:00")
    assert quiet is not None
    assert quiet.defer(when, severity) == expected


def test_quiet_hours_follow_the_time_zone_across_daylight_saving() -> None:
    quiet = parse_quiet_hours("sev3@22:00-08:00", "Europe/Paris")
    assert quiet is not None
    # Night of the change to summer time (29 March 2026): 08:00 Paris is 06:00 UTC.
    assert quiet.defer(datetime(2026, 3, 28, 23, 0, tzinfo=UTC), Severity.SEV3) == datetime(
        2026, 3, 29, 6, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("text", ["sev3", "sev3@22:00", "sev9@22:00-08:00", "sev3@22:00-22:00"])
def test_bad_quiet_hours(text: str) -> None:
    with pytest.raises(ValueError, match="severities@HH:MM-HH:MM"):
        parse_quiet_hours(text)


def test_due_times() -> None:
    policy = ReminderPolicy(nudge_max=2)
    t0 = at(12)
    update = Plan(Kind.UPDATE, Severity.SEV2, True, t0, None, 0, None)
    assert policy.due_at(update) == t0 + timedelta(minutes=30)
    closed = Plan(Kind.UPDATE, Severity.SEV2, False, t0, None, 0, None)
    assert policy.due_at(closed) is None
    nudge = Plan(Kind.NO_MANAGER, Severity.SEV4, True, t0, t0 + timedelta(minutes=5), 1, None)
    assert policy.due_at(nudge) == t0 + timedelta(minutes=10)
    spent = Plan(Kind.NO_MANAGER, Severity.SEV4, True, t0, t0, 2, None)
    assert policy.due_at(spent) is None
