"""Reminders to the owners of action items and post-mortems: when, and sending them once.

The same durable, exactly-once scheme as status-update reminders (bot.reminders and
bot.reminders.claims): the schedule is a table (`followup_reminder`, one row per action item
or post-mortem with its next `due_at`), replicas lease due rows with one atomic conditional
UPDATE, a leased row gets its unique key before the post, and a delivery is recorded under
that key. Keys name the subject and the day, so an owner hears about one thing at most once
a day. Every change to an action item or post-mortem re-plans its row in the same
transaction (`plan`). Slack is called by bot.slack.followup_sender.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, col, select

from bot.core import leases
from bot.core.vocabulary import Role, Status
from bot.followups.policy import FollowUpPolicy, Kind
from bot.reminders import insert_ignoring, now_or
from storage.models import Incident, IncidentRole
from storage.models_postmortems import ActionItem, FollowUpDelivery, FollowUpReminder, PostMortem

log = logging.getLogger(__name__)

Claimed = leases.Claimed


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
    if kind is Kind.ACTION_ITEM:
        item = session.get(ActionItem, subject_id)
        incident = session.get(Incident, item.incident_id) if item else None
        if item is None or incident is None or incident.id is None:
            return None
        return Subject(
            kind=kind,
            subject_id=subject_id,
            incident_id=incident.id,
            number=incident.number,
            title=incident.title,
            channel_id=incident.channel_id,
            recipient=item.owner,
            due_on=item.due_on,
            is_open=item.state == "open",
            text=item.text,
            permalink=item.permalink,
        )
    pm = session.get(PostMortem, subject_id)
    incident = session.get(Incident, pm.incident_id) if pm else None
    if pm is None or incident is None or incident.id is None:
        return None
    is_open = pm.completed_at is None and incident.status == Status.RESOLVED.value
    return Subject(
        kind=kind,
        subject_id=subject_id,
        incident_id=incident.id,
        number=incident.number,
        title=incident.title,
        channel_id=incident.channel_id,
        recipient=pm.owner or _manager(session, incident.id),
        due_on=pm.due_on,
        is_open=is_open,
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


# -- claiming and recording (the database side of sending) ---------------------------------


@dataclass(frozen=True)
class Outgoing:
    """Everything needed to send one reminder, decided inside the database."""

    reminder_id: int
    key: str
    subject: Subject
    recipient: str
    days_late: int  # 0 on the due date
    check_first: bool  # an earlier post may have reached Slack: look for `key` first
    pending_since: datetime


def claim(
    session: Session,
    *,
    owner: str,
    policy: FollowUpPolicy,
    now: datetime | None = None,
    limit: int = 100,
) -> list[Claimed]:
    """Lease up to `limit` due reminders to `owner` in one atomic conditional UPDATE."""
    return leases.claim(
        session, FollowUpReminder, owner=owner, lease=policy.lease, now=now_or(now), limit=limit
    )


def _owned(session: Session, reminder_id: int, owner: str) -> FollowUpReminder | None:
    return leases.owned(session, FollowUpReminder, reminder_id, owner)


def prepare(
    session: Session,
    *,
    claimed: Claimed,
    owner: str,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> Outgoing | None:
    """Check a leased reminder is still due and fix its key; None when it need not go out."""
    now = now_or(now)
    row = _owned(session, claimed.reminder_id, owner)
    if row is None:
        return None
    subj = subject(session, kind=Kind(row.kind), subject_id=row.subject_id)
    absorb(row, subj, policy)
    if subj is None or subj.recipient is None or row.due_at is None or row.due_at > now:
        leases.release(row)  # done, completed, or moved to a later date meanwhile
        session.add(row)
        return None
    check_first = row.pending_key is not None
    if row.pending_key is None:
        row.pending_key, row.pending_since = policy.key(row.kind, row.subject_id, now), now
    row.lease_until = now + policy.lease
    session.add(row)
    late = (policy.today(now) - subj.due_on).days if subj.due_on else 0
    return Outgoing(
        reminder_id=claimed.reminder_id,
        key=row.pending_key,
        subject=subj,
        recipient=subj.recipient,
        days_late=max(0, late),
        check_first=check_first,
        pending_since=row.pending_since or now,
    )


def renew(
    session: Session,
    *,
    reminder_id: int,
    owner: str,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> bool:
    """Extend the lease right before posting; False when another replica has taken over."""
    return leases.renew(
        session,
        FollowUpReminder,
        reminder_id=reminder_id,
        owner=owner,
        lease=policy.lease,
        now=now_or(now),
    )


def record_sent(
    session: Session,
    *,
    outgoing: Outgoing,
    owner: str,
    channel_id: str,
    message_ts: str | None,
    policy: FollowUpPolicy,
    now: datetime | None = None,
) -> bool:
    """Record a sent reminder and plan the next one; False if the lease was lost."""
    now = now_or(now)
    subj = outgoing.subject
    session.execute(
        insert_ignoring(session, FollowUpDelivery)
        .values(
            key=outgoing.key,
            kind=subj.kind.value,
            subject_id=subj.subject_id,
            incident_id=subj.incident_id,
            recipient=outgoing.recipient,
            sent_at=now,
            channel_id=channel_id,
            message_ts=message_ts,
            sent_by=owner,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = _owned(session, outgoing.reminder_id, owner)
    if row is None:
        log.warning("follow-up reminder %s was taken over while sent", outgoing.reminder_id)
        return False
    row.last_sent_at, row.sent_count = now, row.sent_count + 1
    row.pending_key = row.pending_since = row.last_error = None
    row.attempts = 0
    leases.release(row)
    absorb(row, subject(session, kind=subj.kind, subject_id=subj.subject_id), policy)
    session.add(row)
    return True


def record_failure(
    session: Session,
    *,
    reminder_id: int,
    owner: str,
    error: str,
    not_posted: bool,
    retry_after: float | None = None,
    now: datetime | None = None,
) -> None:
    """Keep a reminder whose post failed, to try again after a back-off."""
    leases.record_failure(
        session,
        FollowUpReminder,
        reminder_id=reminder_id,
        owner=owner,
        error=error,
        not_posted=not_posted,
        retry_after=retry_after,
        now=now_or(now),
    )


def deliveries(session: Session, *, kind: Kind | None = None) -> list[FollowUpDelivery]:
    """Reminders sent so far (of one kind), oldest first."""
    query = select(FollowUpDelivery).order_by(col(FollowUpDelivery.sent_at))
    if kind is not None:
        query = query.where(FollowUpDelivery.kind == kind.value)
    return list(session.exec(query).all())
