"""Sending reminders exactly once: claim, prepare, renew, record (the database side).

`claim` leases due rows to one replica with one atomic conditional UPDATE (PostgreSQL skips
rows another replica is claiming; SQLite serialises writers). `prepare` checks a leased
reminder is still due and stores its unique key before the post; `record_sent` and
`record_failure` finish the attempt. A lease that runs out (a crashed replica) frees the
reminder for any replica; its stored key makes that replica look for the earlier post in
Slack before posting again. Slack itself is called by `bot.slack.reminder_sender`.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from bot.core import leases
from bot.core.vocabulary import Role, Severity
from bot.reminders import absorb, insert_ignoring, manager_ids, now_or
from bot.reminders.policy import Kind, ReminderPolicy
from storage.models import Incident, IncidentRole
from storage.models_reminders import Reminder, ReminderDelivery

log = logging.getLogger(__name__)

Claimed = leases.Claimed


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


def claim(
    session: Session,
    *,
    owner: str,
    policy: ReminderPolicy,
    now: datetime | None = None,
    limit: int = 200,
) -> list[Claimed]:
    """Lease up to `limit` due reminders to `owner` in one atomic conditional UPDATE."""
    return leases.claim(
        session, Reminder, owner=owner, lease=policy.lease, now=now_or(now), limit=limit
    )


def _owned(session: Session, reminder_id: int, owner: str) -> Reminder | None:
    return leases.owned(session, Reminder, reminder_id, owner)


def prepare(
    session: Session,
    *,
    claimed: Claimed,
    owner: str,
    policy: ReminderPolicy,
    now: datetime | None = None,
) -> Outgoing | None:
    """Check a leased reminder is still due and fix its key; None when it need not go out."""
    now = now_or(now)
    row = _owned(session, claimed.reminder_id, owner)
    if row is None:
        return None
    incident = session.get(Incident, row.incident_id)
    assert incident is not None and incident.id is not None  # rows cascade with incidents
    roles = session.exec(
        select(IncidentRole).where(
            IncidentRole.incident_id == incident.id,
            IncidentRole.role == Role.INCIDENT_MANAGER.value,
        )
    ).first()
    manager = roles.user_id if roles else None
    absorb(row, incident, manager is not None, policy, now)
    if row.due_at is None or row.due_at > now:
        leases.release(row)  # an update, a snooze or a resolve got there first
        session.add(row)
        return None
    if not incident.channel_id:
        leases.retry_later(row, "the incident has no channel yet", now, None)
        session.add(row)
        return None
    check_first = row.pending_key is not None
    if row.pending_key is None:
        row.pending_key, row.pending_since = uuid.uuid4().hex, now
    row.lease_until = now + policy.lease
    session.add(row)
    assert row.pending_key is not None and row.anchor_at is not None
    return Outgoing(
        reminder_id=claimed.reminder_id,
        kind=Kind(row.kind),
        key=row.pending_key,
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
        check_first=check_first,
        pending_since=row.pending_since or now,
    )


def renew(
    session: Session,
    *,
    reminder_id: int,
    owner: str,
    policy: ReminderPolicy,
    now: datetime | None = None,
) -> bool:
    """Extend the lease right before posting; False when another replica has taken over."""
    return leases.renew(
        session,
        Reminder,
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
    message_ts: str | None,
    policy: ReminderPolicy,
    now: datetime | None = None,
    sent_at: datetime | None = None,
) -> bool:
    """Record a posted reminder (posted at `sent_at`, default now) and plan the next one.

    Returns False when the lease was lost (the replica that took over records it).
    """
    now = now_or(now)
    sent_at = sent_at or now
    session.execute(
        insert_ignoring(session, ReminderDelivery)
        .values(
            key=outgoing.key,
            incident_id=outgoing.incident_id,
            kind=outgoing.kind.value,
            due_at=outgoing.due_at,
            sent_at=sent_at,
            channel_id=outgoing.channel_id,
            message_ts=message_ts,
            sent_by=owner,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )
    row = _owned(session, outgoing.reminder_id, owner)
    if row is None:
        log.warning("reminder %s was taken over while it was sent", outgoing.reminder_id)
        return False
    row.last_sent_at, row.sent_count = sent_at, row.sent_count + 1
    row.pending_key = row.pending_since = row.last_error = None
    if row.snoozed_until is not None and row.snoozed_until <= now:
        row.snoozed_until = None  # spent; one pressed while this was posted holds the next
    row.attempts = 0
    leases.release(row)
    incident = session.get(Incident, row.incident_id)
    assert incident is not None
    has_manager = bool(manager_ids(session, [row.incident_id]))
    absorb(row, incident, has_manager, policy, now)
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
        Reminder,
        reminder_id=reminder_id,
        owner=owner,
        error=error,
        not_posted=not_posted,
        retry_after=retry_after,
        now=now_or(now),
    )


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
