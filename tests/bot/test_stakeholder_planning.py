"""Planning stakeholder notices in the transaction of the incident change (both databases)."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, col, select

from bot import incidents
from bot.core.errors import InvalidInput
from bot.core.events import Event
from bot.core.vocabulary import Role, Severity
from bot.reminders.policy import parse_intervals
from bot.settings import load_settings
from bot.slack.operations import declare_incident
from bot.slack.services import Services
from bot.stakeholders import actions, config, planning
from bot.stakeholders.config import Trigger
from bot.stakeholders.planning import NoticePolicy, plan_event
from bot.stakeholders.webhooks import Webhook
from storage import Database
from storage.models import Incident
from storage.models_stakeholders import StakeholderNotice
from storage.models_statuspage import StatusComponent, StatusIncident

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
FILE = """
groups:
  - name: Management
    quadrant: keep_satisfied
    severities: [sev1, sev2]
    members:
      - {slack: U0CTO0001, email: cto@acme.example}
  - name: Product team
    quadrant: manage_closely
    members:
      - slack_group: S0PRODUCT1
      - {slack: U0PM00001, email: pm@acme.example, phone: "+15551230000"}
  - name: Customers
    quadrant: keep_informed
    members:
      - email: CTO@ACME.example
      - email: ops@customer.example
  - name: Everyone
    quadrant: monitor
    members:
      - slack_group: S0ALL0001
"""


@pytest.fixture
def policy(tmp_path: Path) -> NoticePolicy:
    path = tmp_path / "stakeholders.yml"
    path.write_text(FILE)
    return NoticePolicy(
        directory=config.load(path),
        webhooks=(
            Webhook("https://hooks.example/a", "0123456789abcdef", config.EVENT_TRIGGERS),
            Webhook("https://hooks.example/b", "0123456789abcdef", frozenset({Trigger.RESOLVED})),
        ),
        status_page_url="https://status.acme.example",
        update_intervals=parse_intervals("sev1=15m,sev2=30m,sev3=1h,sev4=off"),
    )


def _declare(
    session: Session, policy: NoticePolicy, *, severity: str = "sev1", private: bool = False
) -> Incident:
    incident, event = incidents.declare(
        session,
        title="Checkout <b>down</b>",
        severity=severity,
        declared_by="U0ALICE",
        declare_key=uuid.uuid4().hex,
        impact="Card payments fail",
        private=private,
        now=T0,
    )
    assert event is not None
    plan_event(session, event, policy=policy, now=T0)
    return incident


def notices(db: Database, incident_id: int) -> list[StakeholderNotice]:
    with db.read() as session:
        return list(
            session.exec(
                select(StakeholderNotice)
                .where(StakeholderNotice.incident_id == incident_id)
                .order_by(col(StakeholderNotice.id))
            ).all()
        )


def plan(db: Database, incident_id: int, trigger: str = "declared") -> set[tuple[str, str]]:
    return {(n.channel, n.recipient) for n in notices(db, incident_id) if n.trigger == trigger}


def test_a_sev1_declaration_plans_each_group_by_its_quadrant(
    db: Database, policy: NoticePolicy
) -> None:
    with db.session() as session:
        incident = _declare(session, policy)
    assert incident.id is not None
    assert plan(db, incident.id) == {
        # keep_satisfied: DM and e-mail
        ("slack", "U0CTO0001"),
        ("email", "cto@acme.example"),
        # manage_closely: invite, DM, e-mail and (SEV1) SMS
        ("invite", "S0PRODUCT1"),
        ("invite", "U0PM00001"),
        ("slack", "S0PRODUCT1"),
        ("slack", "U0PM00001"),
        ("email", "pm@acme.example"),
        ("sms", "+15551230000"),
        # keep_informed: e-mail (CTO@ACME.example is the CTO already: one notice)
        ("email", "ops@customer.example"),
        # webhooks that want declarations
        ("webhook", "https://hooks.example/a"),
    }
    rows = notices(db, incident.id)
    assert all(n.state == "pending" and n.due_at == T0 for n in rows)
    assert len({n.key for n in rows}) == len(rows)
    payload = json.loads(rows[0].payload)
    assert payload["title"] == "Checkout <b>down</b>"
    assert payload["status_page_url"] == "https://status.acme.example"
    assert payload["manager"] == "U0ALICE"
    assert payload["next_update_at"] == (T0 + timedelta(minutes=15)).isoformat()


def test_a_sev4_declaration_skips_groups_limited_to_sev1_and_sev2(
    db: Database, policy: NoticePolicy
) -> None:
    with db.session() as session:
        incident = _declare(session, policy, severity="sev4")
    assert incident.id is not None
    planned = plan(db, incident.id)
    assert ("slack", "U0CTO0001") not in planned and ("sms", "+15551230000") not in planned
    assert ("email", "pm@acme.example") in planned
    assert ("email", "cto@acme.example") in planned  # the CTO is a customer contact too


def test_updates_severity_changes_and_resolution(db: Database, policy: NoticePolicy) -> None:
    with db.session() as session:
        incident = _declare(session, policy, severity="sev2")
        update = incidents.post_update(
            session, incident=incident, author="U0ALICE", message="Rolled back", now=T0
        )
        plan_event(session, update, policy=policy, now=T0)
        escalated = incidents.set_severity(
            session, incident=incident, severity=Severity.SEV1, actor="U0ALICE", now=T0
        )
        plan_event(session, escalated, policy=policy, now=T0)
        resolved = incidents.resolve(
            session, incident=incident, actor="U0ALICE", resolution="Fixed", now=T0
        )
        plan_event(session, resolved, policy=policy, now=T0)
        plan_event(session, resolved, policy=policy, now=T0)  # planning twice adds nothing
    assert incident.id is not None
    counts = Counter(n.trigger for n in notices(db, incident.id))
    assert plan(db, incident.id, "update") == {
        ("slack", "S0PRODUCT1"),
        ("slack", "U0PM00001"),
        ("email", "pm@acme.example"),
        ("webhook", "https://hooks.example/a"),
    }
    assert ("sms", "+15551230000") in plan(db, incident.id, "severity_changed")
    assert ("slack", "U0CTO0001") in plan(db, incident.id, "severity_changed")
    assert ("email", "ops@customer.example") in plan(db, incident.id, "resolved")
    assert ("webhook", "https://hooks.example/b") in plan(db, incident.id, "resolved")
    assert counts["resolved"] == len(plan(db, incident.id, "resolved"))
    row = next(n for n in notices(db, incident.id) if n.trigger == "update")
    assert json.loads(row.payload)["message"] == "Rolled back"


def test_a_private_incident_holds_notices_until_the_manager_confirms_a_group(
    db: Database, policy: NoticePolicy
) -> None:
    with db.session() as session:
        incident = _declare(session, policy, private=True)
    assert incident.id is not None
    rows = notices(db, incident.id)
    assert rows and all(n.state == "held" and n.due_at is None for n in rows)
    assert not any(n.channel == "webhook" for n in rows)  # private: never to webhooks
    with db.session() as session, pytest.raises(actions.NotAllowed, match="private"):
        actions.confirm_group(
            session, incident_id=incident.id, group_name="management", actor="U0BOB", policy=policy
        )
    with db.session() as session:
        freed = actions.confirm_group(
            session,
            incident_id=incident.id,
            group_name="management",
            actor="U0ALICE",
            policy=policy,
            now=T0,
        )
    assert freed == 2
    states = {(n.channel, n.recipient): n.state for n in notices(db, incident.id)}
    assert states[("slack", "U0CTO0001")] == states[("email", "cto@acme.example")] == "pending"
    assert states[("email", "pm@acme.example")] == "held"
    with db.session() as session:  # a confirmed group hears about what follows at once
        incidents.post_update(
            session,
            incident=incidents.get(session, incident_id=incident.id),
            author="U0ALICE",
            message="x",
            now=T0,
        )
        event = incidents.set_severity(
            session,
            incident=incidents.get(session, incident_id=incident.id),
            severity=Severity.SEV2,
            actor="U0ALICE",
            now=T0,
        )
        plan_event(session, event, policy=policy, now=T0)
    changed = [n for n in notices(db, incident.id) if n.trigger == "severity_changed"]
    assert {n.recipient: n.state for n in changed if n.group_name == "Management"} == {
        "U0CTO0001": "pending",
        "cto@acme.example": "pending",
    }
    assert all(n.state == "held" for n in changed if n.group_name != "Management")


def test_notify_and_email_the_managers(db: Database, policy: NoticePolicy) -> None:
    with db.session() as session:
        incident = _declare(session, policy, severity="sev3")
        assert incident.id is not None
        incidents.assign_role(
            session, incident=incident, role=Role.COMMS_LEAD, user_id="U0CAROL", actor="U0ALICE"
        )
    assert incident.id is not None
    group = policy.directory.group("everyone")
    with db.session() as session, pytest.raises(actions.NotAllowed, match="communications lead"):
        actions.notify(
            session,
            incident_id=incident.id,
            groups=[group],
            message="hi",
            actor="U0BOB",
            policy=policy,
        )
    with db.session() as session:
        sent = actions.notify(
            session,
            incident_id=incident.id,
            groups=[group],
            message="Checkout is slow; no action needed",
            actor="U0CAROL",
            policy=policy,
            now=T0,
        )
        managers = actions.email_managers(
            session, incident_id=incident.id, actor="U0ALICE", policy=policy, now=T0
        )
    assert sent.notices == 1  # the monitor group: one DM to its user group
    manual = [n for n in notices(db, incident.id) if n.trigger == "manual"]
    assert {(n.channel, n.recipient, n.requested_by) for n in manual} == {
        ("slack", "S0ALL0001", "U0CAROL"),
        ("email", "cto@acme.example", "U0ALICE"),
        ("email", "pm@acme.example", "U0ALICE"),
    }
    assert managers.groups == ("Management", "Product team")  # regardless of its sev filter
    with db.session() as session, pytest.raises(InvalidInput, match="1000 characters"):
        actions.notify(
            session,
            incident_id=incident.id,
            groups=[group],
            message="x" * 1001,
            actor="U0ALICE",
            policy=policy,
        )


def _services(db: Database, policy: NoticePolicy) -> Services:
    services = Services(
        settings=load_settings(env_file=None),
        db=db,
        slack=WebClient(token="xoxb-unused", base_url="http://127.0.0.1:9/"),
    )
    services.recorders.append(planning.recorder(policy))
    return services


def test_services_plan_in_the_transaction_of_the_change(db: Database, policy: NoticePolicy) -> None:
    services = _services(db, policy)
    incident, created = declare_incident(
        services, title="API down", severity="sev1", declared_by="U0ALICE", declare_key="k1"
    )
    assert created and incident.id is not None
    declared = len(notices(db, incident.id))
    assert declared > 0
    _, again = declare_incident(  # the same form again: no event, no more notices
        services, title="API down", severity="sev1", declared_by="U0ALICE", declare_key="k1"
    )
    assert not again and len(notices(db, incident.id)) == declared

    seen: list[int] = []

    def counting_recorder(session: Session, event: Event) -> None:
        # Inside the change's transaction: the update is there, not yet committed.
        seen.append(len(notices_in(session, incident.id or 0)))

    def failing_recorder(session: Session, event: Event) -> None:
        raise RuntimeError("planning failed")

    services.recorders.extend([counting_recorder, failing_recorder])
    with pytest.raises(RuntimeError):
        services.apply(
            lambda s: incidents.post_update(
                s,
                incident=incidents.get(s, incident_id=incident.id or 0),
                author="U0ALICE",
                message="never recorded",
            )
        )
    assert seen and seen[0] > declared  # the update's notices were planned in the change...
    assert len(notices(db, incident.id)) == declared  # ...and rolled back with it
    with db.read() as session:
        assert incidents.get(session, incident_id=incident.id).last_update_at is None


def notices_in(session: Session, incident_id: int) -> list[StakeholderNotice]:
    return list(
        session.exec(
            select(StakeholderNotice).where(StakeholderNotice.incident_id == incident_id)
        ).all()
    )


def test_components_and_links_come_from_the_status_page(db: Database, tmp_path: Path) -> None:
    path = tmp_path / "groups.yml"
    path.write_text(
        "groups:\n"
        "  - name: API users\n    quadrant: keep_informed\n    components: [API]\n"
        "    members: [{email: api@acme.example}]\n"
        "  - name: Shoppers\n    quadrant: keep_informed\n    components: [website]\n"
        "    members: [{email: shop@acme.example}]\n"
    )
    policy = NoticePolicy(
        directory=config.load(path),
        status_page_url="https://status.acme.example/status",
        status_page_base="https://status.acme.example",
    )
    with db.session() as session:
        session.add(StatusComponent(id="api", name="API"))
        session.add(StatusComponent(id="web", name="Website"))
        incident, _ = incidents.declare(
            session, title="Shop down", severity="sev2", declared_by="U0A", declare_key="s1"
        )
        assert incident.id is not None
        session.add(
            StatusIncident(
                public_id="p4x9",
                incident_id=incident.id,
                name="Shop",
                status="investigating",
                component_ids="web",
            )
        )
        session.flush()
        resolved = incidents.resolve(session, incident=incident, actor="U0A", resolution="ok")
        plan_event(session, resolved, policy=policy, now=T0)
    rows = notices(db, incident.id)
    assert [r.recipient for r in rows] == ["shop@acme.example"]  # not the API users
    payload = json.loads(rows[0].payload)
    assert payload["status_page_url"] == "https://status.acme.example/status/incidents/p4x9"
    assert payload["subscribe_url"] == "https://status.acme.example/status/subscribe"
