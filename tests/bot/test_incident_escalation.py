"""Escalating incidents whose manager has not acknowledged: the rules file's `phones` and
`incidents`, starting, claiming each level once on a given clock (also when two replicas
claim at once, and after a restart), acknowledging, and the planned deliveries (a mention,
DMs, SMS). Both databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from bot import incidents
from bot.alerts import incident_escalation
from bot.alerts.rules import AlertRules, load_rules
from bot.alerts.yamlfile import FileError
from bot.slack.paging import escalate_incidents
from storage import Database
from storage.models import Incident
from storage.models_alerts import IncidentEscalation
from storage.models_stakeholders import StakeholderNotice
from tests.alert_fixtures import rules_file

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
RULES = """\
phones:
  U0BOB: "+15551234567"
policies:
  major:
    levels:
      - users: [U0CAROL]
      - users: [U0BOB]
        after: 10m
        sms: true
incidents:
  policy: major
  severities: [sev1, sev2]
"""


@pytest.fixture
def rules(tmp_path: Path) -> AlertRules:
    return rules_file(tmp_path, RULES)


def declared(
    db: Database, rules: AlertRules, *, manager: str, severity: str = "sev1", drill: bool = False
) -> Incident:
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            drill=drill,
            title="Checkout <!everyone> down",
            severity=severity,
            declared_by="U0ALICE",
            declare_key=f"k-{manager}-{severity}-{drill}",
            manager=manager,
            now=T0,
        )
        incident_escalation.start(session, rules=rules, incident=incident, actor="U0ALICE", now=T0)
    return incident


def claim(db: Database, rules: AlertRules, at: datetime) -> list[int]:
    with db.session() as session:
        due = escalate_incidents(session, rules=rules, now=at, planned_at=at)
    return [d.level for d in due]


def test_the_rules_file_names_phones_and_the_incident_policy(
    rules: AlertRules, tmp_path: Path
) -> None:
    assert rules.phones == {"U0BOB": "+15551234567"}
    assert rules.incidents is not None and rules.incidents.policy == "major"
    assert rules.incidents.applies("sev2") and not rules.incidents.applies("sev3")
    assert [lv.sms for lv in rules.policies["major"].levels] == [False, True]
    for text, reason in (
        ("phones:\n  U0BOB: '555-1234'\n", "not an E.164 number"),
        ("phones:\n  bob: '+15551234567'\n", "not a Slack user id"),
        ("incidents:\n  policy: nope\n", "no policy named 'nope'"),
        (RULES.replace("sms: true", "sms: yes please"), "must be true or false"),
        (RULES.replace("[sev1, sev2]", "[sev9]"), "not a severity"),
    ):
        path = tmp_path / "bad.yml"
        path.write_text(text)
        with pytest.raises(FileError, match=reason):
            load_rules(str(path))


def test_levels_are_claimed_once_and_planned_with_the_claim(
    db: Database, rules: AlertRules
) -> None:
    incident = declared(db, rules, manager="U0CAROL")
    assert claim(db, rules, T0 + timedelta(minutes=1)) == [0]
    assert claim(db, rules, T0 + timedelta(minutes=5)) == []
    # Two replicas at once: the level goes to one of them.
    results: list[list[int]] = []
    threads = [
        threading.Thread(
            target=lambda: results.append(claim(db, rules, T0 + timedelta(minutes=11)))
        )
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [[], [1]]
    assert claim(db, rules, T0 + timedelta(hours=5)) == []  # after the last level: done
    with db.read() as session:
        rows = session.exec(
            select(StakeholderNotice).where(StakeholderNotice.incident_id == incident.id)
        ).all()
    planned = sorted((r.event, r.channel, r.recipient) for r in rows)
    assert planned == [
        ("escalation:0", "escalation", "U0CAROL"),
        ("escalation:0", "escalation", "incident-channel"),
        ("escalation:1", "escalation", "U0BOB"),
        ("escalation:1", "escalation", "incident-channel"),
        ("escalation:1", "sms", "+15551234567"),
    ]
    assert all("&lt;!everyone&gt;" in r.payload for r in rows if r.channel == "escalation")


def test_after_a_pause_the_due_levels_come_once_each(db: Database, rules: AlertRules) -> None:
    declared(db, rules, manager="U0CAROL")
    assert claim(db, rules, T0 + timedelta(hours=1)) == [0, 1]  # a restart after an outage
    assert claim(db, rules, T0 + timedelta(hours=2)) == []


def test_acknowledging_stops_it_and_some_incidents_never_escalate(
    db: Database, rules: AlertRules
) -> None:
    incident = declared(db, rules, manager="U0CAROL")
    assert claim(db, rules, T0) == [0]
    with db.session() as session:
        assert incident_escalation.acknowledge(
            session, incident_id=must(incident.id), user="U0CAROL", now=T0
        )
        assert not incident_escalation.acknowledge(
            session, incident_id=must(incident.id), user="U0CAROL", now=T0
        )
    assert claim(db, rules, T0 + timedelta(hours=1)) == []
    declared(db, rules, manager="U0ALICE")  # declared by its own manager
    declared(db, rules, manager="U0CAROL", severity="sev3")  # not a severity that escalates
    declared(db, rules, manager="U0BOB", drill=True)  # a drill never pages anyone
    with db.read() as session:
        assert len(session.exec(select(IncidentEscalation)).all()) == 1


def must(value: int | None) -> int:
    assert value is not None
    return value
