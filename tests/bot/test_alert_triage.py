"""Acknowledge, dismiss, link and escalate alert groups, on a clock the test controls."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from bot.alerts import triage
from bot.alerts.escalation import Targets
from bot.alerts.intake import store
from bot.alerts.parsers import parse_prometheus
from bot.alerts.rules import AlertRules
from bot.core.errors import InvalidInput, NotFound
from storage import Database
from storage.models import Incident
from storage.models_alerts import AlertGroup
from tests.alert_fixtures import T0, open_group, payload, rules_file

RULES = """\
schedules:
  primary:
    timezone: Europe/Paris
    handover: monday 09:00
    start: 2026-11-23
    people: [U0ALICE, U0BOB]
policies:
  checkout:
    levels:
      - schedule: primary
      - users: [U0LEAD]
        after: 10m
      - group: S0SRE
        after: 15m
rules:
  - name: checkout
    match: {labels: {service: checkout}}
    policy: checkout
"""


@pytest.fixture
def rules(tmp_path: Path) -> AlertRules:
    return rules_file(tmp_path, RULES)


def claim(db: Database, rules: AlertRules, at: datetime) -> list[triage.DueLevel]:
    with db.session() as session:
        return triage.claim_due_levels(session, rules=rules, now=at)


def test_levels_are_handed_out_once_as_time_passes(db: Database, rules: AlertRules) -> None:
    group_id = open_group(db, rules)
    assert claim(db, rules, T0 - timedelta(seconds=1)) == []
    first = claim(db, rules, T0)
    assert first == [triage.DueLevel(group_id, 0, Targets(("U0BOB",)))]  # Bob's week
    assert claim(db, rules, T0 + timedelta(minutes=9)) == []  # level 0 is not given twice
    assert [d.level for d in claim(db, rules, T0 + timedelta(minutes=10))] == [1]
    # A restarted process (a new engine on the same database) goes on from level 2.
    restarted = Database(db.url)
    try:
        later = claim(restarted, rules, T0 + timedelta(hours=2))
    finally:
        restarted.dispose()
    assert later == [triage.DueLevel(group_id, 2, Targets((), "S0SRE"))]
    assert claim(db, rules, T0 + timedelta(hours=3)) == []
    with db.read() as session:
        group = session.get(AlertGroup, group_id)
    assert group is not None and group.escalation_level == 3 and group.escalation_due_at is None


def test_after_an_outage_every_missed_level_is_due_once(db: Database, rules: AlertRules) -> None:
    open_group(db, rules)
    assert [d.level for d in claim(db, rules, T0 + timedelta(hours=1))] == [0, 1, 2]
    assert claim(db, rules, T0 + timedelta(hours=2)) == []


def test_replicas_claiming_at_once_share_the_levels(db: Database, rules: AlertRules) -> None:
    open_group(db, rules)
    claimed: list[triage.DueLevel] = []
    barrier = threading.Barrier(6)

    def tick() -> None:
        barrier.wait()
        claimed.extend(claim(db, rules, T0 + timedelta(minutes=30)))

    threads = [threading.Thread(target=tick) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(d.level for d in claimed) == [0, 1, 2]


def test_acknowledging_stops_the_escalation(db: Database, rules: AlertRules) -> None:
    group_id = open_group(db, rules)
    claim(db, rules, T0)
    with db.session() as session:
        group = triage.acknowledge(session, group_id=group_id, user="U0BOB", now=T0)
        version = group.version
    assert (group.state, group.acknowledged_by) == ("acknowledged", "U0BOB")
    assert claim(db, rules, T0 + timedelta(hours=1)) == []
    with db.session() as session:  # a second click changes nothing
        again = triage.acknowledge(session, group_id=group_id, user="U0CAROL", now=T0)
    assert (again.acknowledged_by, again.version) == ("U0BOB", version)


def test_a_resolved_group_stops_escalating(db: Database, rules: AlertRules) -> None:
    open_group(db, rules)
    claim(db, rules, T0)
    for name in ("alertmanager_one_resolved", "alertmanager_resolved"):
        store(db, parse_prometheus(payload(name)), rules=rules, now=T0 + timedelta(minutes=1))
    assert claim(db, rules, T0 + timedelta(hours=1)) == []


def test_dismiss_needs_a_reason_and_link_needs_an_incident(db: Database, rules: AlertRules) -> None:
    group_id = open_group(db, rules)
    with pytest.raises(InvalidInput) as caught, db.session() as session:
        triage.dismiss(session, group_id=group_id, user="U0BOB", reason="  ", now=T0)
    assert caught.value.fields == {"reason": "Give a reason."}
    with db.session() as session:
        group = triage.dismiss(
            session, group_id=group_id, user="U0BOB", reason="known flaky  probe", now=T0
        )
    assert (group.state, group.dismiss_reason, group.escalation_due_at) == (
        "dismissed",
        "known flaky probe",
        None,
    )
    with pytest.raises(NotFound), db.session() as session:
        triage.link(
            session, group_id=group_id, incident_id=999, user="U0BOB", now=T0, declared=False
        )
    with pytest.raises(NotFound), db.session() as session:
        triage.acknowledge(session, group_id=12345, user="U0BOB", now=T0)
    with db.session() as session:
        incident = Incident(
            number=1,
            title="Checkout errors",
            severity="sev2",
            declared_by="U0BOB",
            declare_key="k1",
            declared_at=T0,
        )
        session.add(incident)
        session.flush()
        linked = triage.link(
            session,
            group_id=group_id,
            incident_id=incident.id or 0,
            user="U0BOB",
            now=T0,
            declared=False,
        )
    assert (linked.state, linked.incident_id) == ("linked", incident.id)
    with pytest.raises(InvalidInput, match="already part of an incident"), db.session() as session:
        triage.dismiss(session, group_id=group_id, user="U0BOB", reason="noise", now=T0)


def test_linking_makes_the_first_alert_the_detection_time(db: Database, rules: AlertRules) -> None:
    group_id = open_group(db, rules)
    with db.read() as session:
        group = session.get(AlertGroup, group_id)
        assert group is not None
        first_alert = group.first_alert_at

    def declare(session: Session, number: int, at: datetime) -> Incident:
        incident = Incident(
            number=number,
            title="Checkout errors",
            severity="sev2",
            declared_by="U0BOB",
            declare_key=f"k{number}",
            declared_at=at,
        )
        session.add(incident)
        session.flush()
        return incident

    with db.session() as session:
        later = declare(session, 1, first_alert + timedelta(minutes=7))
        earlier = declare(session, 2, first_alert - timedelta(minutes=3))
        assert later.detected_at is None
        for incident in (later, earlier):
            triage.link(
                session,
                group_id=group_id,
                incident_id=incident.id or 0,
                user="U0BOB",
                now=T0,
                declared=incident is later,
            )
        later_id, earlier_id = later.id, earlier.id
    with db.read() as session:
        got_later = session.get(Incident, later_id)
        got_earlier = session.get(Incident, earlier_id)
    # Declared 7 minutes after the alert started: detected when the alert started.
    assert got_later is not None and got_later.detected_at == first_alert
    # Declared before the alert started: people saw it first (time to detect is 0, never < 0).
    assert got_earlier is not None and got_earlier.detected_at == got_earlier.declared_at
    # Linking again (or a later group) never moves the detection time later.
    with db.session() as session:
        again = session.get(Incident, later_id)
        assert again is not None
        triage.note_detection(again, first_alert + timedelta(hours=1))
        assert again.detected_at == first_alert
