"""Who is on call and which escalation level is due, with the clock in the test's hands."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from bot.alerts.escalation import Level, Policy, Targets
from bot.alerts.oncall import Override, Schedule
from bot.alerts.rules import load_rules

PARIS = ZoneInfo("Europe/Paris")


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def rotation(**extra: object) -> Schedule:
    values: dict[str, object] = {
        "name": "primary",
        "people": ("U0ALICE", "U0BOB", "U0CAROL"),
        "timezone": PARIS,
        "handover_day": 0,
        "handover_time": time(9, 0),
        "start": date(2026, 1, 5),  # a Monday
    }
    values.update(extra)
    return Schedule(**values)  # type: ignore[arg-type]


def test_weekly_rotation_hands_over_on_the_local_hour() -> None:
    schedule = rotation()
    assert schedule.on_call(paris(2026, 1, 5, 9, 0)) == "U0ALICE"
    assert schedule.on_call(paris(2026, 1, 12, 8, 59)) == "U0ALICE"
    assert schedule.on_call(paris(2026, 1, 12, 9, 0)) == "U0BOB"
    assert schedule.on_call(paris(2026, 1, 21, 3, 0)) == "U0CAROL"
    assert schedule.on_call(paris(2026, 1, 26, 9, 0)) == "U0ALICE"  # round again
    assert schedule.on_call(paris(2026, 1, 5, 8, 0)) == "U0CAROL"  # the week before start
    shift = schedule.shift(paris(2026, 1, 14, 12, 0))
    assert (shift.user, shift.start, shift.end) == (
        "U0BOB",
        paris(2026, 1, 12, 9, 0),
        paris(2026, 1, 19, 9, 0),
    )


def test_handover_stays_at_nine_local_across_daylight_saving() -> None:
    schedule = rotation()
    # Summer time starts on Sunday 29 March 2026: Monday 30 March 09:00 is 07:00 UTC.
    handover = paris(2026, 3, 30, 9, 0)
    assert handover == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)
    before = schedule.on_call(handover - timedelta(minutes=1))
    after = schedule.on_call(handover)
    assert before != after
    assert schedule.shift(handover).end - schedule.shift(handover).start == timedelta(days=7)
    assert schedule.shift(handover - timedelta(minutes=1)).end == handover


def test_overrides_win_and_the_last_one_listed_wins_overlaps() -> None:
    schedule = rotation(
        overrides=(
            Override("U0DAVE", paris(2026, 1, 6, 18, 0), paris(2026, 1, 8, 9, 0)),
            Override("U0ERIN", paris(2026, 1, 7, 0, 0), paris(2026, 1, 7, 12, 0)),
        )
    )
    assert schedule.on_call(paris(2026, 1, 6, 17, 59)) == "U0ALICE"
    assert schedule.on_call(paris(2026, 1, 6, 18, 0)) == "U0DAVE"
    assert schedule.on_call(paris(2026, 1, 7, 6, 0)) == "U0ERIN"
    assert schedule.on_call(paris(2026, 1, 7, 12, 0)) == "U0DAVE"
    assert schedule.on_call(paris(2026, 1, 8, 9, 0)) == "U0ALICE"
    assert schedule.shift(paris(2026, 1, 7, 6, 0)).override


POLICY = Policy(
    "payments",
    (
        Level(timedelta(0), schedule="primary"),
        Level(timedelta(minutes=10), users=("U0LEAD",)),
        Level(timedelta(minutes=15), group="S0SRE"),
    ),
)


def test_which_level_is_due_as_the_clock_moves() -> None:
    start = datetime(2026, 1, 14, 12, 0, tzinfo=UTC)
    assert POLICY.due_levels(start, 0, start - timedelta(seconds=1)) == []
    assert POLICY.due_levels(start, 0, start) == [0]
    assert POLICY.next_due(start, 1) == start + timedelta(minutes=10)
    assert POLICY.due_levels(start, 1, start + timedelta(minutes=9, seconds=59)) == []
    assert POLICY.due_levels(start, 1, start + timedelta(minutes=10)) == [1]
    assert POLICY.next_due(start, 2) == start + timedelta(minutes=25)
    # After a pause every level not yet delivered is due once, none already delivered again.
    assert POLICY.due_levels(start, 0, start + timedelta(hours=2)) == [0, 1, 2]
    assert POLICY.due_levels(start, 2, start + timedelta(hours=2)) == [2]
    assert POLICY.due_levels(start, 3, start + timedelta(hours=2)) == []
    assert POLICY.next_due(start, 3) is None


def test_a_level_reaches_whoever_is_on_call_then() -> None:
    schedules = {"primary": rotation()}
    assert POLICY.targets(0, schedules, paris(2026, 1, 14, 12, 0)) == Targets(("U0BOB",))
    assert POLICY.targets(0, schedules, paris(2026, 1, 19, 9, 0)) == Targets(("U0CAROL",))
    assert POLICY.targets(1, schedules, paris(2026, 1, 19, 9, 0)) == Targets(("U0LEAD",))
    assert POLICY.targets(2, schedules, paris(2026, 1, 19, 9, 0)) == Targets((), "S0SRE")
    assert POLICY.first_schedule() == "primary"


def test_schedules_from_the_rules_file(tmp_path: Path) -> None:
    path = tmp_path / "rules.yml"
    path.write_text(
        "schedules:\n"
        "  primary:\n"
        "    timezone: Europe/Paris\n"
        "    handover: Mon 09:00\n"
        "    start: 2026-01-05\n"
        "    people: [U0ALICE, U0BOB, U0CAROL]\n"
        "    overrides:\n"
        "      - {user: U0DAVE, from: '2026-01-06 18:00', until: 2026-01-08T09:00+01:00}\n"
        "policies:\n"
        "  payments:\n"
        "    levels:\n"
        "      - schedule: primary\n"
        "      - users: U0LEAD\n"
        "        after: 10m\n"
        "      - group: S0SRE\n"
        "        after: 15\n"
    )
    rules = load_rules(str(path))
    assert rules.schedules["primary"] == rotation(
        overrides=(Override("U0DAVE", paris(2026, 1, 6, 18, 0), paris(2026, 1, 8, 9, 0)),)
    )
    assert rules.policies["payments"] == POLICY
