"""Reminders to the owners of action items and post-mortems: when they fall due.

The schedule is a table (`followup_reminder`, one row per action item or post-mortem with its
next `due_at`), a source of the delivery engine like the status-update reminders' (see
`bot.followups.claims`; Slack is called by `bot.slack.followup_sender`). Keys name the subject
and the day, so an owner hears about one thing at most once a day. Every change to an action
item or post-mortem re-plans its row in the same transaction (`plan`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.delivery import insert_ignoring
from bot.core.vocabulary import Role, Status
from bot.followups.policy import FollowUpPolicy, Kind
from storage.models import Incident, IncidentRole
from storage.models_postmortems import ActionItem, FollowUpDelivery, FollowUpReminder, PostMortem

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Subject:
    """The facts a reminder is planned from and written with."""

    kind: Kind
    subject_id: int
    incident_id: int
    number: int
    title: str
    channel_id: str | None
    recipient: str | None
    due_on: date | None
    is_open: bool
    text: str = ""
    permalink: str | None = None


def _manager(session: Session, incident_id: int) -> str | None:
    row = session.exec(
        select(IncidentRole).where(
            IncidentRole.incident_id == incident_id,
            IncidentRole.role == Role.INCIDENT_MANAGER.value,
        )
    ).first()
    return row.user_id if row else None


def subject(session: Session, *, kind: Kind, subject_id: int) -> Subject | None:
    """The current facts of an action item or post-mortem, or None when it is gone."""
    item = session.get(ActionItem, subject_id) if kind is Kind.ACTION_ITEM else None
    pm = session.get(PostMortem, subject_id) if kind is Kind.POSTMORTEM else None
    found = item or pm
    incident = session.get(Incident, found.incident_id) if found else None
    if incident is None or incident.id is None:
        return None
    facts: dict[str, Any]
    if item is not None:
        facts = {
            "recipient": item.owner,
            "due_on": item.due_on,
            "is_open": item.state == "open",
            "text": item.text,
            "permalink": item.permalink,
        }
    else:
        assert pm is not None
        facts = {
            "recipient": pm.owner or _manager(session, incident.id),
            "due_on": pm.due_on,
            "is_open": pm.completed_at is None and incident.status == Status.RESOLVED.value,
        }
    return Subject(
        kind=kind,
        subject_id=subject_id,
        incident_id=incident.id,
        number=incident.number,
        title=incident.title,
        channel_id=incident.channel_id,
        **facts,
    )


def absorb(row: FollowUpReminder, subj: Subject | None, policy: FollowUpPolicy) -> None:
    """Compute a row's next due time from its subject's facts (None: nothing to remind)."""
    if subj is None or not subj.is_open or subj.recipient is None:
        row.due_at = None
        row.pending_key = row.pending_since = None
        return
    row.due_at = policy.next_due(due_on=subj.due_on, last_sent_at=row.last_sent_at)


def plan(
    session: Session,
    *,
    kind: Kind,
    subject_id: int,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> datetime | None:
    """Plan the reminder of one action item or post-mortem from its facts; its due time."""
    subj = subject(session, kind=kind, subject_id=subject_id)
    if subj is None:
        return None
    session.execute(
        insert_ignoring(session, FollowUpReminder)
        .values(
            kind=kind.value,
            subject_id=subject_id,
            incident_id=subj.incident_id,
            sent_count=0,
            attempts=0,
        )
        .on_conflict_do_nothing()
    )
    row = session.exec(
        select(FollowUpReminder)
        .where(FollowUpReminder.kind == kind.value, FollowUpReminder.subject_id == subject_id)
        .with_for_update()
    ).one()
    absorb(row, subj, policy)
    session.add(row)
    session.flush()
    return row.due_at


def deliveries(session: Session, *, kind: Kind | None = None) -> list[FollowUpDelivery]:
    """Reminders sent so far (of one kind), oldest first."""
    query = select(FollowUpDelivery).order_by(col(FollowUpDelivery.sent_at))
    if kind is not None:
        query = query.where(FollowUpDelivery.kind == kind.value)
    return list(session.exec(query).all())
