"""Status-update reminders and nudges as a source of the delivery engine (`bot.core.delivery`).

The `reminder` table is the source: a leased row is re-planned from its incident's facts
before it goes out (an update, a snooze or a resolve may have come since it was claimed), its
item is an `Outgoing`, a delivery is logged in `reminder_delivery` under its key, and the next
reminder counts from when this one was posted. Slack is called by `bot.slack.reminder_sender`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.core.delivery import Attempt, NotReady, Receipt, Source, log_delivery
from bot.core.vocabulary import Role, Severity
from bot.reminders import absorb, manager_ids, now_or
from bot.reminders.policy import Kind, ReminderPolicy
from storage.models import Incident, IncidentRole
from storage.models_reminders import Reminder, ReminderDelivery


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to post one reminder, decided inside the database."""

    reminder_id: int
    kind: Kind
    key: str
    due_at: datetime
    incident_id: int
    number: int
    title: str
    severity: Severity
    channel_id: str
    manager: str | None
    since: datetime  # the last update (update reminders) or since when nobody manages it
    nudge_number: int  # 1 for the first nudge (no-manager reminders)
    check_first: bool  # an earlier post may have reached Slack: look for `key` first
    pending_since: datetime


class ReminderSource(Source[Reminder, Outgoing, ReminderPolicy]):
    """The `reminder` table: one row per open incident and kind."""

    name = "reminder"
    model = Reminder

    def load(
        self, session: Session, row: Reminder, attempt: Attempt, now: datetime
    ) -> Outgoing | None:
        """Re-plan the row from its incident; the reminder to post if it is still due."""
        incident = session.get(Incident, row.incident_id)
        assert incident is not None and incident.id is not None  # rows cascade with incidents
        role = session.exec(
            select(IncidentRole).where(
                IncidentRole.incident_id == incident.id,
                IncidentRole.role == Role.INCIDENT_MANAGER.value,
            )
        ).first()
        manager = role.user_id if role else None
        absorb(row, incident, manager is not None, self.policy, now)
        if row.due_at is None or row.due_at > now:
            return None
        if not incident.channel_id:
            raise NotReady("the incident has no channel yet")
        assert row.id is not None and row.anchor_at is not None
        return Outgoing(
            reminder_id=row.id,
            kind=Kind(row.kind),
            key=attempt.key,
            due_at=row.due_at,  # as planned (a retry's back-off counts as lateness)
            incident_id=incident.id,
            number=incident.number,
            title=incident.title,
            severity=Severity(incident.severity),
            channel_id=incident.channel_id,
            manager=manager,
            since=(incident.last_update_at or incident.declared_at)
            if row.kind == Kind.UPDATE
            else row.anchor_at,
            nudge_number=row.sent_count + 1,
            check_first=attempt.check_first,
            pending_since=attempt.pending_since,
        )

    def record(self, session: Session, item: Outgoing, receipt: Receipt, *, owner: str) -> None:
        """Log the reminder in `reminder_delivery` (once per key)."""
        log_delivery(
            session,
            ReminderDelivery,
            receipt,
            key=item.key,
            sent_by=owner,
            incident_id=item.incident_id,
            kind=item.kind.value,
            due_at=item.due_at,
        )

    def plan_next(
        self, session: Session, row: Reminder, item: Outgoing, receipt: Receipt, now: datetime
    ) -> None:
        """Count the reminder and plan the next one from when it was posted."""
        row.last_sent_at, row.sent_count = receipt.sent_at, row.sent_count + 1
        if row.snoozed_until is not None and row.snoozed_until <= now:
            row.snoozed_until = None  # spent; one pressed while this was posted holds the next
        incident = session.get(Incident, row.incident_id)
        assert incident is not None
        has_manager = bool(manager_ids(session, [row.incident_id]))
        absorb(row, incident, has_manager, self.policy, now)


def next_due(
    session: Session, *, now: datetime | None = None, incident_id: int | None = None
) -> datetime | None:
    """The earliest reminder planned after `now` (or, of one incident, at all), if any."""
    query = select(func.min(Reminder.due_at))
    if incident_id is None:
        query = query.where(col(Reminder.due_at) > now_or(now))
    else:
        query = query.where(Reminder.incident_id == incident_id)
    return session.exec(query).one()


def deliveries(session: Session, *, incident_id: int | None = None) -> list[ReminderDelivery]:
    """Reminders posted so far (of one incident), oldest first."""
    query = select(ReminderDelivery).order_by(col(ReminderDelivery.sent_at))
    if incident_id is not None:
        query = query.where(ReminderDelivery.incident_id == incident_id)
    return list(session.exec(query).all())
