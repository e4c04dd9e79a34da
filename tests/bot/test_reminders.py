"""Reminder planning, claiming and recording, with a controllable clock (both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import col, delete, select

from bot import incidents, reminders
from bot.core import leases
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Role, Severity, Status
from bot.reminders import claims
from bot.reminders.claims import Claimed, Outgoing
from bot.reminders.policy import Kind, ReminderPolicy, parse_intervals, parse_quiet_hours
from storage import Database
from storage.models import Incident, IncidentRole
from storage.models_reminders import Reminder

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
POLICY = ReminderPolicy(
    intervals=parse_intervals("sev1=15m,sev2=30m,sev3=1h,sev4=off"),
    nudge_after=timedelta(minutes=5),
    nudge_max=3,
)
ME, OTHER = "replica-a", "replica-b"


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def declare(
    db: Database, *, severity: str = "sev1", at: datetime = T0, manager: bool = True
) -> int:
    """An open incident with a channel, planned as the event subscriber would."""
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Checkout is down",
            severity=severity,
            declared_by="U0ALICE",
            declare_key=uuid.uuid4().hex,
            now=at,
        )
        assert incident.id is not None
        incident.channel_id = f"C{incident.id:08d}"
        session.add(incident)
        if not manager:
            session.execute(
                delete(IncidentRole).where(col(IncidentRole.incident_id) == incident.id)
            )
        session.flush()
        reminders.replan(session, incident_id=incident.id, policy=POLICY, now=at)
        return incident.id


def row(db: Database, incident_id: int, kind: Kind = Kind.UPDATE) -> Reminder:
    with db.session() as session:
        found = session.exec(
            select(Reminder).where(Reminder.incident_id == incident_id, Reminder.kind == kind)
        ).one()
        return found


def due(db: Database, incident_id: int, kind: Kind = Kind.UPDATE) -> datetime | None:
    return row(db, incident_id, kind).due_at


def claim(db: Database, now: datetime, owner: str = ME) -> list[Claimed]:
    with db.session() as session:
        return claims.claim(session, owner=owner, policy=POLICY, now=now)


def prepare(db: Database, claimed: Claimed, now: datetime, owner: str = ME) -> Outgoing | None:
    with db.session() as session:
        return claims.prepare(session, claimed=claimed, owner=owner, policy=POLICY, now=now)


def send(db: Database, now: datetime, owner: str = ME) -> list[Outgoing]:
    """Claim, prepare and record as sent everything due at `now` (a tick whose posts work)."""
    sent = []
    for claimed in claim(db, now, owner):
        out = prepare(db, claimed, now, owner)
        if out is not None:
            with db.session() as session:
                claims.record_sent(
                    session, outgoing=out, owner=owner, message_ts="1.0", policy=POLICY, now=now
                )
            sent.append(out)
    return sent


def apply(db: Database, operation: object) -> None:
    """Run a domain operation and re-plan its incident, as Services.apply + subscriber do."""
    with db.session() as session:
        event = operation(session)  # type: ignore[operator]
    with db.session() as session:
        reminders.replan(session, incident_id=event.incident_id, policy=POLICY, now=event.at)


def incident(session: object, incident_id: int) -> Incident:
    return incidents.get(session, incident_id=incident_id)  # type: ignore[arg-type]


# -- timing ------------------------------------------------------------------------------


def test_first_reminder_falls_due_after_the_severity_interval(db: Database) -> None:
    sev1, sev3, sev4 = declare(db), declare(db, severity="sev3"), declare(db, severity="sev4")
    assert due(db, sev1) == T0 + minutes(15)
    assert due(db, sev3) == T0 + minutes(60)
    assert due(db, sev4) is None  # off
    assert claim(db, T0 + minutes(14.9)) == []
    sent = send(db, T0 + minutes(15))
    assert [(o.incident_id, o.kind, o.since) for o in sent] == [(sev1, Kind.UPDATE, T0)]
    assert sent[0].manager == "U0ALICE"
    assert send(db, T0 + minutes(16)) == []


def test_the_next_reminder_counts_from_the_last_one_sent(db: Database) -> None:
    incident_id = declare(db)
    send(
        db,
        T0
        + minutes(
            15,
        )
        + timedelta(seconds=1),
    )
    assert due(db, incident_id) == T0 + minutes(30) + timedelta(seconds=1)
    assert row(db, incident_id).sent_count == 1


def test_an_overdue_reminder_goes_out_once_not_as_a_burst(db: Database) -> None:
    """Down for three hours with a 15-minute interval: one reminder on start, then the cadence."""
    incident_id = declare(db)
    back = T0 + timedelta(hours=3)
    assert len(send(db, back)) == 1
    assert send(db, back + timedelta(seconds=5)) == []
    assert due(db, incident_id) == back + minutes(15)


# -- changes -----------------------------------------------------------------------------


def test_an_update_resets_the_clock(db: Database) -> None:
    incident_id = declare(db)
    apply(
        db,
        lambda s: incidents.post_update(
            s,
            incident=incident(s, incident_id),
            author="U0ALICE",
            message="x",
            now=T0 + minutes(10),
        ),
    )
    assert due(db, incident_id) == T0 + minutes(25)
    assert claim(db, T0 + minutes(20)) == []


def test_an_update_posted_after_the_claim_stops_that_reminder(db: Database) -> None:
    incident_id = declare(db)
    [claimed] = claim(db, T0 + minutes(15))
    with db.session() as session:  # committed, but its event not yet handled
        incidents.post_update(
            session,
            incident=incident(session, incident_id),
            author="U1",
            message="x",
            now=T0 + minutes(15),
        )
    assert prepare(db, claimed, T0 + minutes(15)) is None
    assert due(db, incident_id) == T0 + minutes(30)
    assert row(db, incident_id).lease_owner is None


def test_a_severity_change_replans_with_the_new_interval(db: Database) -> None:
    incident_id = declare(db, severity="sev3")
    apply(
        db,
        lambda s: incidents.set_severity(
            s,
            incident=incident(s, incident_id),
            severity=Severity.SEV1,
            actor="U1",
            now=T0 + minutes(20),
        ),
    )
    assert due(db, incident_id) == T0 + minutes(15)  # already 20 minutes without an update
    assert len(send(db, T0 + minutes(20))) == 1
    apply(
        db,
        lambda s: incidents.set_severity(
            s,
            incident=incident(s, incident_id),
            severity=Severity.SEV2,
            actor="U1",
            now=T0 + minutes(21),
        ),
    )
    assert due(db, incident_id) == T0 + minutes(50)
    apply(
        db,
        lambda s: incidents.set_severity(
            s,
            incident=incident(s, incident_id),
            severity=Severity.SEV4,
            actor="U1",
            now=T0 + minutes(22),
        ),
    )
    assert due(db, incident_id) is None


def test_snooze_delays_only_the_next_reminder(db: Database) -> None:
    incident_id = declare(db)
    send(db, T0 + minutes(15))
    with db.session() as session:
        until = reminders.snooze(
            session, incident_id=incident_id, minutes=60, policy=POLICY, now=T0 + minutes(16)
        )
    assert until == T0 + minutes(76)
    assert send(db, T0 + minutes(75)) == []
    assert len(send(db, T0 + minutes(76))) == 1
    assert due(db, incident_id) == T0 + minutes(91)  # back to every 15 minutes


def test_a_short_snooze_never_brings_a_reminder_forward(db: Database) -> None:
    incident_id = declare(db, severity="sev3")
    with db.session() as session:
        until = reminders.snooze(
            session, incident_id=incident_id, minutes=15, policy=POLICY, now=T0 + minutes(1)
        )
    assert until == T0 + minutes(60)


@pytest.mark.parametrize("minutes_", [0, 7, 10_000])
def test_snooze_takes_only_the_offered_durations(db: Database, minutes_: int) -> None:
    incident_id = declare(db)
    with pytest.raises(InvalidInput), db.session() as session:
        reminders.snooze(session, incident_id=incident_id, minutes=minutes_, policy=POLICY, now=T0)


def test_resolving_stops_reminders_and_reopening_restarts_the_clock(db: Database) -> None:
    incident_id = declare(db)
    [claimed] = claim(db, T0 + minutes(15))
    apply(
        db,
        lambda s: incidents.resolve(
            s, incident=incident(s, incident_id), actor="U1", resolution="ok", now=T0 + minutes(15)
        ),
    )
    assert due(db, incident_id) is None
    assert prepare(db, claimed, T0 + minutes(15)) is None  # claimed before the resolve
    assert send(db, T0 + timedelta(days=1)) == []
    with pytest.raises(InvalidInput, match="resolved"), db.session() as session:
        reminders.snooze(session, incident_id=incident_id, minutes=15, policy=POLICY, now=T0)
    reopened = T0 + minutes(40)
    apply(
        db,
        lambda s: incidents.set_status(
            s,
            incident=incident(s, incident_id),
            status=Status.INVESTIGATING,
            actor="U1",
            now=reopened,
        ),
    )
    assert due(db, incident_id) == reopened + minutes(15)


# -- no incident manager -----------------------------------------------------------------


def test_nudges_an_incident_without_manager_a_few_times(db: Database) -> None:
    incident_id = declare(db, severity="sev4", manager=False)  # sev4: no update reminders
    assert due(db, incident_id, Kind.NO_MANAGER) == T0 + minutes(5)
    sent_at = [T0 + minutes(5), T0 + minutes(10), T0 + minutes(15), T0 + minutes(20)]
    sent = [send(db, at) for at in sent_at]
    assert [[(o.kind, o.nudge_number) for o in batch] for batch in sent] == [
        [(Kind.NO_MANAGER, 1)],
        [(Kind.NO_MANAGER, 2)],
        [(Kind.NO_MANAGER, 3)],
        [],
    ]
    assert sent[0][0].manager is None and sent[0][0].since == T0
    assert due(db, incident_id, Kind.NO_MANAGER) is None


def test_assigning_a_manager_stops_the_nudges(db: Database) -> None:
    incident_id = declare(db, manager=False)
    send(db, T0 + minutes(5))
    apply(
        db,
        lambda s: incidents.assign_role(
            s,
            incident=incident(s, incident_id),
            role=Role.INCIDENT_MANAGER,
            user_id="U0BOB",
            actor="U0BOB",
            now=T0 + minutes(6),
        ),
    )
    assert due(db, incident_id, Kind.NO_MANAGER) is None
    assert [o.kind for o in send(db, T0 + minutes(15))] == [Kind.UPDATE]


def test_an_incident_that_loses_its_manager_is_found_by_reconcile(db: Database) -> None:
    incident_id = declare(db)
    assert due(db, incident_id, Kind.NO_MANAGER) is None
    with db.session() as session:  # the role row disappears without an event
        session.execute(delete(IncidentRole).where(col(IncidentRole.incident_id) == incident_id))
    noticed = T0 + minutes(30)
    with db.session() as session:
        assert reminders.reconcile(session, policy=POLICY, now=noticed) == 1
    assert due(db, incident_id, Kind.NO_MANAGER) == noticed + minutes(5)
    with db.session() as session:
        assert reminders.reconcile(session, policy=POLICY, now=noticed) == 0


# -- reconcile: lost events --------------------------------------------------------------


def test_reconcile_plans_incidents_whose_events_were_lost(db: Database) -> None:
    with db.session() as session:  # declared, then the process died before the subscriber ran
        new, _ = incidents.declare(
            session, title="t", severity="sev2", declared_by="U1", declare_key="k", now=T0
        )
        assert new.id is not None
        new_id = new.id
    changed = declare(db, severity="sev3")
    updated = declare(db)
    with db.session() as session:
        incidents.set_severity(
            session, incident=incident(session, changed), severity=Severity.SEV1, actor="U1", now=T0
        )
        incidents.post_update(
            session,
            incident=incident(session, updated),
            author="U1",
            message="x",
            now=T0 + minutes(5),
        )
    with db.session() as session:
        assert reminders.reconcile(session, policy=POLICY, now=T0 + minutes(6)) == 3
    assert due(db, new_id) == T0 + minutes(30)
    assert due(db, changed) == T0 + minutes(15)
    assert due(db, updated) == T0 + minutes(20)


# -- claiming: exactly once --------------------------------------------------------------


def test_two_replicas_never_claim_the_same_reminder(db: Database) -> None:
    ids = [declare(db) for _ in range(5)]
    now = T0 + minutes(15)
    mine = claim(db, now, ME)
    assert {c.reminder_id for c in mine} == {row(db, i).id for i in ids}
    assert claim(db, now, OTHER) == []


def test_a_dead_replicas_lease_runs_out_and_another_sends(db: Database) -> None:
    incident_id = declare(db)
    now = T0 + minutes(15)
    [claimed] = claim(db, now, ME)
    assert claim(db, now + POLICY.lease - timedelta(seconds=1), OTHER) == []
    later = now + POLICY.lease + timedelta(seconds=1)
    [taken] = claim(db, later, OTHER)
    assert prepare(db, claimed, later, ME) is None  # the first replica lost it
    out = prepare(db, taken, later, OTHER)
    assert out is not None and out.incident_id == incident_id


def test_an_attempt_of_unknown_outcome_is_looked_up_before_posting_again(db: Database) -> None:
    declare(db)
    now = T0 + minutes(15)
    [claimed] = claim(db, now, ME)
    first = prepare(db, claimed, now, ME)
    assert first is not None and not first.check_first
    later = now + POLICY.lease + timedelta(seconds=1)  # ME crashed while posting
    [taken] = claim(db, later, OTHER)
    second = prepare(db, taken, later, OTHER)
    assert second is not None
    assert (second.key, second.check_first, second.pending_since) == (first.key, True, now)
    with db.session() as session:
        assert claims.renew(
            session, reminder_id=taken.reminder_id, owner=OTHER, policy=POLICY, now=later
        )
        assert not claims.renew(
            session, reminder_id=taken.reminder_id, owner=ME, policy=POLICY, now=later
        )


def test_a_failed_post_is_retried_with_back_off(db: Database) -> None:
    incident_id = declare(db)
    now = T0 + minutes(15)
    [claimed] = claim(db, now)
    out = prepare(db, claimed, now)
    assert out is not None
    with db.session() as session:
        claims.record_failure(
            session,
            reminder_id=claimed.reminder_id,
            owner=ME,
            error="HTTP 500",
            not_posted=False,
            now=now,
        )
    failed = row(db, incident_id)
    assert (failed.attempts, failed.pending_key, failed.lease_owner) == (1, out.key, None)
    assert failed.due_at == now + timedelta(seconds=leases.RETRY_BASE_SECONDS)
    assert claim(db, now + timedelta(seconds=1)) == []
    retry_at = now + timedelta(seconds=2)
    [again] = claim(db, retry_at)
    retried = prepare(db, again, retry_at)
    assert retried is not None and retried.check_first and retried.key == out.key
    with db.session() as session:  # Slack refused it: the key is dropped, back-off doubles
        claims.record_failure(
            session,
            reminder_id=again.reminder_id,
            owner=ME,
            error="ratelimited",
            not_posted=True,
            retry_after=30,
            now=retry_at,
        )
    assert row(db, incident_id).pending_key is None
    assert due(db, incident_id) == retry_at + timedelta(seconds=30)
    [sent] = send(db, retry_at + timedelta(seconds=30))
    assert not sent.check_first and row(db, incident_id).attempts == 0
    with db.session() as session:
        assert len(claims.deliveries(session, incident_id=incident_id)) == 1


def test_a_snooze_after_an_unknown_outcome_starts_a_new_reminder(db: Database) -> None:
    """The unsure attempt is moot once the plan moves on: the next one gets a new key."""
    incident_id = declare(db)
    now = T0 + minutes(15)
    [claimed] = claim(db, now)
    out = prepare(db, claimed, now)
    assert out is not None
    with db.session() as session:
        claims.record_failure(
            session,
            reminder_id=claimed.reminder_id,
            owner=ME,
            error="timeout",
            not_posted=False,
            now=now,
        )
    with db.session() as session:
        reminders.snooze(
            session, incident_id=incident_id, minutes=30, policy=POLICY, now=now + minutes(1)
        )
    assert row(db, incident_id).pending_key is None
    [later] = send(db, now + minutes(31))
    assert not later.check_first and later.key != out.key


def test_a_delivery_is_recorded_once_per_key(db: Database) -> None:
    incident_id = declare(db)
    now = T0 + minutes(15)
    [claimed] = claim(db, now)
    out = prepare(db, claimed, now)
    assert out is not None
    for owner in (ME, OTHER):
        with db.session() as session:
            claims.record_sent(
                session, outgoing=out, owner=owner, message_ts="1.0", policy=POLICY, now=now
            )
    with db.session() as session:
        assert [d.key for d in claims.deliveries(session, incident_id=incident_id)] == [out.key]


def test_a_reminder_without_a_channel_waits_for_it(db: Database) -> None:
    incident_id = declare(db)
    with db.session() as session:
        incident(session, incident_id).channel_id = None
    now = T0 + minutes(15)
    [claimed] = claim(db, now)
    assert prepare(db, claimed, now) is None
    assert row(db, incident_id).attempts == 1
    assert due(db, incident_id) == now + timedelta(seconds=2)


def test_next_due(db: Database) -> None:
    with db.session() as session:
        assert claims.next_due(session, now=T0) is None
    declare(db, severity="sev2")
    declare(db)
    with db.session() as session:
        assert claims.next_due(session, now=T0) == T0 + minutes(15)


# -- quiet hours -------------------------------------------------------------------------


def test_quiet_hours_hold_low_severities_until_morning(db: Database) -> None:
    quiet = parse_quiet_hours("sev3,sev4@22:00-08:00", "Europe/Paris")
    policy = ReminderPolicy(intervals=POLICY.intervals, quiet=quiet)
    evening = datetime(2026, 3, 2, 21, 30, tzinfo=UTC)  # 22:30 in Paris (UTC+1)
    sev3, sev1 = declare(db, severity="sev3", at=evening), declare(db, at=evening)
    with db.session() as session:
        for incident_id in (sev3, sev1):
            reminders.replan(session, incident_id=incident_id, policy=policy, now=evening)
    assert due(db, sev3) == datetime(2026, 3, 3, 7, 0, tzinfo=UTC)  # 08:00 in Paris
    assert due(db, sev1) == evening + minutes(15)
