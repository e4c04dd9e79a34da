"""Services.apply, the one way to change something, and the subscribers' documented order."""

from __future__ import annotations

import re

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, select

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


def test_apply_publishes_every_event_once_committed_after_on_commit(db: Database) -> None:
    services = services_for(db)
    seen: list[str] = []

    def subscriber(event: ev.Event) -> None:
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
    assert seen == [
        "acknowledged",
        "declared of #1 (sev1)",
        "severity_changed of #1 (sev1)",
    ]


def test_a_failing_operation_changes_nothing_and_publishes_nothing(db: Database) -> None:
    services = services_for(db)
    seen: list[ev.Event] = []
    acknowledged: list[bool] = []
    services.events.subscribe("recorder", seen.append, ev.Event)

    def declare_then_refuse(session: Session) -> ev.Event:
        declare(session)
        raise InvalidInput("no")

    with pytest.raises(InvalidInput):
        services.apply(declare_then_refuse, on_commit=lambda: acknowledged.append(True))
    assert services.apply(lambda session: None) is None
    assert seen == [] and acknowledged == []
    with db.read() as session:
        assert session.exec(select(Incident)).all() == []


def test_subscribers_are_installed_once_in_the_documented_order(db: Database) -> None:
    services = services_for(db)
    services.notices = NoticeRunner(services, owner="test")
    subscribers.install(services, reminder_ticker=ReminderTicker(services))
    names = [name for name, _ in services.events.subscribers()]
    assert names == [
        "slack_surfaces",
        "timeline",
        "reminders",
        "postmortem_opening",
        "postmortem_document",
        "action_items",
        "reminder_wakeup",
        "alerts",
        "notice_wakeup",
    ]
    assert re.findall(r"^\d\. ``(\w+)``", subscribers.__doc__ or "", re.M) == names
    with pytest.raises(RuntimeError, match="already"):
        subscribers.install(services)
