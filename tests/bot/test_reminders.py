"""Reminder planning, and reminders as a source of the delivery engine (both databases).

The engine's own rules (leases, keys, failures) are tested in test_delivery.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, delete

from bot import incidents, reminders
from bot.core.delivery import Delivered, Failure
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Role, Severity, Status
from bot.reminders import claims
from bot.reminders.policy import Kind, ReminderPolicy, parse_quiet_hours
from storage.models import IncidentRole
from tests.bot.conftest import ME, OTHER, POLICY, T0, Desk, incident, minutes

# -- timing ------------------------------------------------------------------------------


def test_first_reminder_falls_due_after_the_severity_interval(desk: Desk) -> None:
    sev1 = desk.declare()
    sev3, sev4 = desk.declare(severity="sev3"), desk.declare(severity="sev4")
    assert desk.due(sev1) == T0 + minutes(15)
    assert desk.due(sev3) == T0 + minutes(60)
    assert desk.due(sev4) is None  # off
    assert desk.claim(T0 + minutes(14.9)) == []
    sent = desk.send(T0 + minutes(15))
    assert [(o.incident_id, o.kind, o.since) for o in sent] == [(sev1, Kind.UPDATE, T0)]
    assert sent[0].manager == "U0ALICE01"
    assert desk.send(T0 + minutes(16)) == []


def test_the_next_reminder_counts_from_the_last_one_sent(desk: Desk) -> None:
    incident_id = desk.declare()
    desk.send(T0 + minutes(15) + timedelta(seconds=1))
    assert desk.due(incident_id) == T0 + minutes(30) + timedelta(seconds=1)
    assert desk.row(incident_id).sent_count == 1


def test_an_overdue_reminder_goes_out_once_not_as_a_burst(desk: Desk) -> None:
    """Down for three hours with a 15-minute interval: one reminder on start, then the cadence."""
    incident_id = desk.declare()
    back = T0 + timedelta(hours=3)
    assert len(desk.send(back)) == 1
    assert desk.send(back + timedelta(seconds=5)) == []
    assert desk.due(incident_id) == back + minutes(15)


# -- changes -----------------------------------------------------------------------------

Operation = Callable[[Session], Any]


def post_update(incident_id: int, at: datetime) -> Operation:
    return lambda s: incidents.post_update(
        s, incident=incident(s, incident_id), author="U1", message="x", now=at
    )


def set_severity(incident_id: int, severity: Severity, at: datetime) -> Operation:
    return lambda s: incidents.set_severity(
        s, incident=incident(s, incident_id), severity=severity, actor="U1", now=at
    )


def test_an_update_resets_the_clock(desk: Desk) -> None:
    incident_id = desk.declare()
    desk.apply(post_update(incident_id, T0 + minutes(10)))
    assert desk.due(incident_id) == T0 + minutes(25)
    assert desk.claim(T0 + minutes(20)) == []


def test_an_update_posted_after_the_claim_stops_that_reminder(desk: Desk) -> None:
    incident_id = desk.declare()
    [claimed] = desk.claim(T0 + minutes(15))
    with desk.db.session() as session:  # committed, but its event not yet handled
        post_update(incident_id, T0 + minutes(15))(session)
    assert desk.prepare(claimed, T0 + minutes(15)) is None
    assert desk.due(incident_id) == T0 + minutes(30)
    assert desk.row(incident_id).lease_owner is None


def test_a_severity_change_replans_with_the_new_interval(desk: Desk) -> None:
    incident_id = desk.declare(severity="sev3")
    desk.apply(set_severity(incident_id, Severity.SEV1, T0 + minutes(20)))
    assert desk.due(incident_id) == T0 + minutes(15)  # already 20 minutes without an update
    assert len(desk.send(T0 + minutes(20))) == 1
    desk.apply(set_severity(incident_id, Severity.SEV2, T0 + minutes(21)))
    assert desk.due(incident_id) == T0 + minutes(50)
    desk.apply(set_severity(incident_id, Severity.SEV4, T0 + minutes(22)))
    assert desk.due(incident_id) is None


def snooze(desk: Desk, incident_id: int, minutes_: int, now: datetime) -> datetime:
    with desk.db.session() as session:
        return reminders.snooze(
            session, incident_id=incident_id, minutes=minutes_, policy=desk.policy, now=now
        )


def test_snooze_delays_only_the_next_reminder(desk: Desk) -> None:
    incident_id = desk.declare()
    desk.send(T0 + minutes(15))
    assert snooze(desk, incident_id, 60, T0 + minutes(16)) == T0 + minutes(76)
    assert desk.send(T0 + minutes(75)) == []
    assert len(desk.send(T0 + minutes(76))) == 1
    assert desk.due(incident_id) == T0 + minutes(91)  # back to every 15 minutes


def test_a_short_snooze_never_brings_a_reminder_forward(desk: Desk) -> None:
    incident_id = desk.declare(severity="sev3")
    assert snooze(desk, incident_id, 15, T0 + minutes(1)) == T0 + minutes(60)


@pytest.mark.parametrize("minutes_", [0, 7, 10_000])
def test_snooze_takes_only_the_offered_durations(desk: Desk, minutes_: int) -> None:
    incident_id = desk.declare()
    with pytest.raises(InvalidInput):
        snooze(desk, incident_id, minutes_, T0)


def test_a_snooze_after_an_unknown_outcome_starts_a_new_reminder(desk: Desk) -> None:
    """The unsure attempt is moot once the plan moves on: the next one gets a new key."""
    incident_id = desk.declare()
    now = T0 + minutes(15)
    job = desk.take(now)
    desk.failed(job, Failure("timeout", Delivered.MAYBE), now)
    assert desk.row(incident_id).pending_key == job.attempt.key
    snooze(desk, incident_id, 30, now + minutes(1))
    assert desk.row(incident_id).pending_key is None
    [later] = desk.send(now + minutes(31))
    assert not later.check_first and later.key != job.attempt.key


def test_resolving_stops_reminders_and_reopening_restarts_the_clock(desk: Desk) -> None:
    incident_id = desk.declare()
    [claimed] = desk.claim(T0 + minutes(15))
    desk.apply(
        lambda s: incidents.resolve(
            s, incident=incident(s, incident_id), actor="U1", resolution="ok", now=T0 + minutes(15)
        ),
    )
    assert desk.due(incident_id) is None
    assert desk.prepare(claimed, T0 + minutes(15)) is None  # claimed before the resolve
    assert desk.send(T0 + timedelta(days=1)) == []
    with pytest.raises(InvalidInput, match="resolved"):
        snooze(desk, incident_id, 15, T0)
    reopened = T0 + minutes(40)
    desk.apply(
        lambda s: incidents.set_status(
            s,
            incident=incident(s, incident_id),
            status=Status.INVESTIGATING,
            actor="U1",
            now=reopened,
        ),
    )
    assert desk.due(incident_id) == reopened + minutes(15)


# -- no incident manager -----------------------------------------------------------------


def test_nudges_an_incident_without_manager_a_few_times(desk: Desk) -> None:
    incident_id = desk.declare(severity="sev4", manager=False)  # sev4: no update reminders
    assert desk.due(incident_id, Kind.NO_MANAGER) == T0 + minutes(5)
    sent_at = [T0 + minutes(5), T0 + minutes(10), T0 + minutes(15), T0 + minutes(20)]
    sent = [desk.send(at) for at in sent_at]
    assert [[(o.kind, o.nudge_number) for o in batch] for batch in sent] == [
        [(Kind.NO_MANAGER, 1)],
        [(Kind.NO_MANAGER, 2)],
        [(Kind.NO_MANAGER, 3)],
        [],
    ]
    assert sent[0][0].manager is None and sent[0][0].since == T0
    assert desk.due(incident_id, Kind.NO_MANAGER) is None


def test_assigning_a_manager_stops_the_nudges(desk: Desk) -> None:
    incident_id = desk.declare(manager=False)
    desk.send(T0 + minutes(5))
    desk.apply(
        lambda s: incidents.assign_role(
            s,
            incident=incident(s, incident_id),
            role=Role.INCIDENT_MANAGER,
            user_id="U0BOB",
            actor="U0BOB",
            now=T0 + minutes(6),
        ),
    )
    assert desk.due(incident_id, Kind.NO_MANAGER) is None
    assert [o.kind for o in desk.send(T0 + minutes(15))] == [Kind.UPDATE]


def test_an_incident_that_loses_its_manager_is_found_by_reconcile(desk: Desk) -> None:
    incident_id = desk.declare()
    assert desk.due(incident_id, Kind.NO_MANAGER) is None
    with desk.db.session() as session:  # the role row disappears without an event
        session.execute(delete(IncidentRole).where(col(IncidentRole.incident_id) == incident_id))
    noticed = T0 + minutes(30)
    with desk.db.session() as session:
        assert reminders.reconcile(session, policy=POLICY, now=noticed) == 1
    assert desk.due(incident_id, Kind.NO_MANAGER) == noticed + minutes(5)
    with desk.db.session() as session:
        assert reminders.reconcile(session, policy=POLICY, now=noticed) == 0


# -- reconcile: lost events --------------------------------------------------------------


def test_reconcile_plans_incidents_whose_events_were_lost(desk: Desk) -> None:
    with desk.db.session() as session:  # declared, then the process died before the subscriber
        new, _ = incidents.declare(
            session, title="t", severity="sev2", declared_by="U1", declare_key="k", now=T0
        )
        assert new.id is not None
        new_id = new.id
    changed = desk.declare(severity="sev3")
    updated = desk.declare()
    with desk.db.session() as session:
        set_severity(changed, Severity.SEV1, T0)(session)
        post_update(updated, T0 + minutes(5))(session)
    with desk.db.session() as session:
        assert reminders.reconcile(session, policy=POLICY, now=T0 + minutes(6)) == 3
    assert desk.due(new_id) == T0 + minutes(30)
    assert desk.due(changed) == T0 + minutes(15)
    assert desk.due(updated) == T0 + minutes(20)


# -- the source: what a claimed reminder becomes -----------------------------------------


def test_a_claimed_reminder_carries_its_key_and_incident(desk: Desk) -> None:
    incident_id = desk.declare()
    now = T0 + minutes(15)
    job = desk.take(now)
    out = job.item
    assert (out.key, out.check_first, out.pending_since) == (job.attempt.key, False, now)
    assert (out.incident_id, out.kind, out.due_at) == (incident_id, Kind.UPDATE, now)
    assert out.channel_id == f"C{incident_id:08d}" and out.nudge_number == 1
    later = now + POLICY.lease + timedelta(seconds=1)  # ME crashed while posting
    again = desk.take(later, OTHER).item
    assert (again.key, again.check_first, again.pending_since) == (out.key, True, now)
    assert again.due_at == now  # as planned: the delay counts as lateness


def test_a_reminder_without_a_channel_waits_for_it(desk: Desk) -> None:
    incident_id = desk.declare()
    with desk.db.session() as session:
        incident(session, incident_id).channel_id = None
    now = T0 + minutes(15)
    [claimed] = desk.claim(now)
    assert desk.prepare(claimed, now) is None
    waiting = desk.row(incident_id)
    assert (waiting.attempts, waiting.last_error) == (1, "the incident has no channel yet")
    assert waiting.due_at == now + timedelta(seconds=2) and waiting.lease_owner is None


def test_deliveries_are_logged_per_incident(desk: Desk) -> None:
    first, second = desk.declare(), desk.declare(severity="sev2")
    desk.send(T0 + minutes(30))
    with desk.db.session() as session:
        [logged] = claims.deliveries(session, incident_id=second)
        assert (logged.kind, logged.due_at, logged.sent_by) == ("update", T0 + minutes(30), ME)
        assert {d.incident_id for d in claims.deliveries(session)} == {first, second}


def test_next_due(desk: Desk) -> None:
    with desk.db.session() as session:
        assert claims.next_due(session, now=T0) is None
    desk.declare(severity="sev2")
    desk.declare()
    with desk.db.session() as session:
        assert claims.next_due(session, now=T0) == T0 + minutes(15)


# -- quiet hours -------------------------------------------------------------------------


def test_quiet_hours_hold_low_severities_until_morning(desk: Desk) -> None:
    quiet = parse_quiet_hours("sev3,sev4@22:00-08:00", "Europe/Paris")
    desk.policy = ReminderPolicy(intervals=POLICY.intervals, quiet=quiet)
    evening = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 22:30 in Paris (UTC+1)
    sev3, sev1 = desk.declare(severity="sev3", at=evening), desk.declare(at=evening)
    assert desk.due(sev3) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert desk.due(sev1) == evening + minutes(15)
