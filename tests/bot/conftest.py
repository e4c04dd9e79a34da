"""Shared by the reminder, follow-up and delivery-engine tests: incidents with reminder rows,
and the engine's steps run one session at a time with a controllable clock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, delete, select

from bot import incidents, reminders
from bot.core import delivery
from bot.core.delivery import Claimed, Failure, Job, Receipt
from bot.reminders.claims import Outgoing, ReminderSource
from bot.reminders.policy import Kind, ReminderPolicy, parse_intervals
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
    db: Database,
    *,
    severity: str = "sev1",
    at: datetime = T0,
    manager: bool = True,
    channel: str | None = None,
    policy: ReminderPolicy = POLICY,
) -> int:
    """An open incident with a channel, its reminders planned as the event subscriber would."""
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Checkout is down",
            severity=severity,
            declared_by="U0ALICE01",
            declare_key=uuid.uuid4().hex,
            now=at,
        )
        assert incident.id is not None
        incident.channel_id = channel or f"C{incident.id:08d}"
        session.add(incident)
        if not manager:
            session.execute(
                delete(IncidentRole).where(col(IncidentRole.incident_id) == incident.id)
            )
        session.flush()
        reminders.replan(session, incident_id=incident.id, policy=policy, now=at)
        return incident.id


class Desk:
    """The reminders of one test database, worked by hand: each step in its own session."""

    def __init__(self, db: Database, policy: ReminderPolicy = POLICY) -> None:
        self.db = db
        self.policy = policy
        self.source = ReminderSource(policy)

    def declare(self, **kwargs: Any) -> int:
        return declare(self.db, policy=self.policy, **kwargs)

    def row(self, incident_id: int, kind: Kind = Kind.UPDATE) -> Reminder:
        with self.db.session() as session:
            return session.exec(
                select(Reminder).where(Reminder.incident_id == incident_id, Reminder.kind == kind)
            ).one()

    def due(self, incident_id: int, kind: Kind = Kind.UPDATE) -> datetime | None:
        return self.row(incident_id, kind).due_at

    def claim(self, now: datetime, owner: str = ME) -> list[Claimed]:
        with self.db.session() as session:
            return delivery.claim(session, self.source, owner=owner, now=now)

    def prepare(self, claimed: Claimed, now: datetime, owner: str = ME) -> Job[Outgoing] | None:
        with self.db.session() as session:
            return delivery.prepare(session, self.source, claimed, owner=owner, now=now)

    def take(self, now: datetime, owner: str = ME) -> Job[Outgoing]:
        """Claim and prepare the one item due at `now`."""
        [claimed] = self.claim(now, owner)
        job = self.prepare(claimed, now, owner)
        assert job is not None
        return job

    def sent(self, job: Job[Outgoing], now: datetime, owner: str = ME) -> bool:
        receipt = Receipt(sent_at=now, destination="C1", reference="1.0")
        with self.db.session() as session:
            return delivery.record_sent(session, self.source, job, receipt, owner=owner, now=now)

    def failed(self, job: Job[Outgoing], failure: Failure, now: datetime, owner: str = ME) -> None:
        with self.db.session() as session:
            delivery.record_failure(session, self.source, job, failure, owner=owner, now=now)

    def renew(self, job: Job[Outgoing], now: datetime, owner: str = ME) -> bool:
        with self.db.session() as session:
            return delivery.renew(session, self.source, job, owner=owner, now=now)

    def send(self, now: datetime, owner: str = ME) -> list[Outgoing]:
        """Claim, prepare and record as sent everything due at `now` (a tick whose posts work)."""
        sent = []
        for claimed in self.claim(now, owner):
            job = self.prepare(claimed, now, owner)
            if job is not None:
                self.sent(job, now, owner)
                sent.append(job.item)
        return sent

    def apply(self, operation: Callable[[Session], Any]) -> None:
        """Run a domain operation and re-plan its incident, as Services.apply + subscriber do."""
        with self.db.session() as session:
            event = operation(session)
        with self.db.session() as session:
            reminders.replan(
                session, incident_id=event.incident_id, policy=self.policy, now=event.at
            )


def incident(session: Session, incident_id: int) -> Incident:
    return incidents.get(session, incident_id=incident_id)


@pytest.fixture
def desk(db: Database) -> Desk:
    """The reminders of a fresh database (SQLite and PostgreSQL), worked by hand."""
    return Desk(db)
