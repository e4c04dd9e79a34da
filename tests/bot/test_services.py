"""Services.apply, the one way to change something: the change and its deliveries in one
transaction; the subscribers' documented order."""

from __future__ import annotations

import re

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, col, select

from bot import incidents
from bot.core import events as ev
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Severity
from bot.settings import load_settings
from bot.slack import subscribers
from bot.slack.jobs import ReminderTicker
from bot.slack.notice_sender import NoticeRunner
from bot.slack.services import Services
from storage import Database
from storage.models import Incident
from storage.models_outbox import OutboxDelivery

NOWHERE = "http://127.0.0.1:9/api/"  # nothing here calls Slack


def services_for(db: Database) -> Services:
    settings = load_settings(env_file=None, slack_bot_token="xoxb-test", slack_api_url=NOWHERE)
    return Services(settings=settings, db=db, slack=WebClient("xoxb-test", base_url=NOWHERE))


def declare(session: Session, key: str = "k1") -> ev.IncidentDeclared:
    _, event = incidents.declare(
        session, title="Checkout is down", severity="sev2", declared_by="U1", declare_key=key
    )
    assert event is not None
    return event


def test_apply_writes_the_deliveries_with_the_change_and_they_run_after_commit(
    db: Database,
) -> None:
    services = services_for(db)
    seen: list[str] = []

    def subscriber(event: ev.Event, delivery: ev.Delivery) -> None:
        with db.read() as session:  # another connection: the change must be committed
            incident = incidents.get(session, incident_id=event.incident_id)
        seen.append(f"{event.kind} of #{incident.number} ({incident.severity})")

    services.events.subscribe("recorder", subscriber, ev.IncidentEvent)

    def declare_and_raise(session: Session) -> list[ev.Event]:
        declared = declare(session)
        incident = incidents.get(session, incident_id=declared.incident_id)
        changed = incidents.set_severity(
            session, incident=incident, severity=Severity.SEV1, actor="U1"
        )
        return [declared, changed]

    result = services.apply(declare_and_raise, on_commit=lambda: seen.append("acknowledged"))
    assert [type(e) for e in result] == [ev.IncidentDeclared, ev.SeverityChanged]
    with db.read() as session:
        rows = session.exec(select(OutboxDelivery).order_by(col(OutboxDelivery.id))).all()
    assert [(r.subscriber, r.event_kind, r.delivered_at) for r in rows] == [
        ("recorder", "declared", None),
        ("recorder", "severity_changed", None),
    ]
    assert ev.from_json(rows[1].event) == result[1]
    assert seen == ["acknowledged"]  # nothing delivered yet: the outbox is not running
    assert services.outbox.drain() == {"sent": 2}
    assert seen == [
        "acknowledged",
        "declared of #1 (sev1)",
        "severity_changed of #1 (sev1)",
    ]
    assert services.outbox.drain() == {}  # delivered once


def test_a_failing_operation_changes_nothing_and_delivers_nothing(db: Database) -> None:
    services = services_for(db)
    seen: list[ev.Event] = []
    acknowledged: list[bool] = []
    services.events.subscribe("recorder", lambda event, delivery: seen.append(event), ev.Event)

    def declare_then_refuse(session: Session) -> ev.Event:
        declare(session)
        raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        services.apply(declare_then_refuse, on_commit=lambda: acknowledged.append(True))
    assert services.apply(lambda session: None) is None
    assert services.outbox.drain() == {}
    assert seen == [] and acknowledged == []
    with db.read() as session:
        assert session.exec(select(Incident)).all() == []
        assert session.exec(select(OutboxDelivery)).all() == []


def test_subscribers_are_installed_once_in_the_documented_order(db: Database) -> None:
    services = services_for(db)
    services.notices = NoticeRunner(services, owner="test")
    subscribers.install(services, reminder_ticker=ReminderTicker(services))
    names = [name for name, _ in services.events.subscribers()]
    assert names == [
        "channel",
        "members",
        "topic",
        "card",
        "notices",
        "broadcast",
        "checklist",
        "timeline",
        "reminders",
        "postmortem_opening",
        "postmortem_document",
        "action_items",
        "setup_failed",
        "not_updated",
        "alerts",
        "drill_score",
    ]
    assert re.findall(r"^\d+\. ``(\w+)``", subscribers.__doc__ or "", re.M) == names
    assert set(services.events.setup_steps()) == {
        "channel",
        "members",
        "topic",
        "card",
        "broadcast",
        "checklist",
    }
    assert services.after_commit == [services.notices.on_event]  # a wake-up, not a delivery
    with pytest.raises(RuntimeError, match="already"):
        subscribers.install(services)
