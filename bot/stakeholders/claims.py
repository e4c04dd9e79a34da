"""Leasing due notices to one replica, and recording what happened to them.

MINIMAL STAND-IN for the generic delivery engine (bot/core/delivery.py, being built apart):
when it lands, `stakeholder_notice` rows become its items and this module and
`bot.slack.notice_sender` are replaced by it; the senders (bot/outbound/*, Slack DMs) already
speak its interface (`send(item) -> None`, raising a retryable or a permanent SendError).

A replica leases due rows with one conditional UPDATE (PostgreSQL skips rows another replica
is claiming; SQLite serialises writers), sends, and records the outcome only while it still
holds the lease. A failure is retried with exponential back-off and, after the last attempt,
kept as `failed` for `/incident comms` to show: never dropped.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, update
from sqlmodel import Session, col, select

from bot.reminders import insert_ignoring
from bot.stakeholders.notice import Notice
from bot.stakeholders.planning import FAILED, PENDING, SENT, notice_key
from storage.models import Incident
from storage.models_stakeholders import StakeholderNotice

RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 900.0
ERROR_MAX = 200


def _free(now: datetime) -> Any:
    lease = col(StakeholderNotice.lease_until)
    return or_(lease.is_(None), lease < now)


def claim(
    session: Session, *, owner: str, lease: timedelta, now: datetime, limit: int
) -> list[int]:
    """Lease up to `limit` due notices to `owner`; returns their ids, oldest due first."""
    due = col(StakeholderNotice.due_at) <= now
    pending = col(StakeholderNotice.state) == PENDING
    candidates = (
        select(StakeholderNotice.id)
        .where(due, pending, _free(now))
        .order_by(col(StakeholderNotice.due_at), col(StakeholderNotice.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(StakeholderNotice)
        .where(col(StakeholderNotice.id).in_(candidates), due, pending, _free(now))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(col(StakeholderNotice.id), col(StakeholderNotice.due_at))
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(statement).all()
    return [r[0] for r in sorted(rows, key=lambda r: (r[1], r[0]))]


def _owned(session: Session, notice_id: int, owner: str, now: datetime) -> StakeholderNotice | None:
    row = session.exec(
        select(StakeholderNotice).where(StakeholderNotice.id == notice_id).with_for_update()
    ).first()
    if row is None or row.lease_owner != owner or row.state != PENDING:
        return None
    if row.lease_until is None or row.lease_until <= now:
        return None
    return row


def load(session: Session, *, notice_id: int, owner: str, now: datetime) -> Notice | None:
    """The notice, if `owner` still holds its lease and it is still to be sent."""
    row = _owned(session, notice_id, owner, now)
    if row is None or row.id is None:
        return None
    incident = session.get(Incident, row.incident_id)
    return Notice(
        id=row.id,
        key=row.key,
        incident_id=row.incident_id,
        channel=row.channel,
        recipient=row.recipient,
        trigger=row.trigger,
        event=row.event,
        group=row.group_name,
        quadrant=row.quadrant,
        payload=json.loads(row.payload or "{}"),
        attempts=row.attempts,
        incident_channel_id=incident.channel_id if incident is not None else None,
        parent_id=row.parent_id,
        outcome_unknown=row.pending_since is not None,
    )


def renew(session: Session, *, notice_id: int, owner: str, lease: timedelta, now: datetime) -> bool:
    """Extend the lease right before sending and note that an attempt is under way; False
    when another replica has taken over."""
    result = session.execute(
        update(StakeholderNotice)
        .where(
            col(StakeholderNotice.id) == notice_id,
            col(StakeholderNotice.lease_owner) == owner,
            col(StakeholderNotice.lease_until) > now,
            col(StakeholderNotice.state) == PENDING,
        )
        .values(lease_until=now + lease, pending_since=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_sent(
    session: Session, *, notice_id: int, owner: str, provider_ref: str | None, now: datetime
) -> bool:
    """Mark a notice sent (only by the lease holder)."""
    row = session.exec(
        select(StakeholderNotice).where(StakeholderNotice.id == notice_id).with_for_update()
    ).first()
    if row is None or row.lease_owner != owner or row.state != PENDING:
        return False
    row.state, row.sent_at, row.due_at = SENT, now, None
    row.provider_ref = (provider_ref or "")[:200] or None
    row.attempts += 1
    row.last_error = None
    row.lease_owner = row.lease_until = row.pending_since = None
    session.add(row)
    return True


def backoff(attempts: int, retry_after: float | None) -> timedelta:
    """How long to wait after the `attempts`-th failure."""
    delay = min(RETRY_BASE_SECONDS * 2 ** (attempts - 1), RETRY_MAX_SECONDS)
    return timedelta(seconds=max(delay, min(retry_after or 0.0, RETRY_MAX_SECONDS)))


def record_failure(
    session: Session,
    *,
    notice_id: int,
    owner: str,
    error: str,
    retryable: bool,
    retry_after: float | None,
    max_attempts: int,
    now: datetime,
) -> str | None:
    """Count a failed attempt: due again after a back-off, or failed for good; the new state."""
    row = session.exec(
        select(StakeholderNotice).where(StakeholderNotice.id == notice_id).with_for_update()
    ).first()
    if row is None or row.lease_owner != owner or row.state != PENDING:
        return None
    row.attempts += 1
    row.last_error = error[:ERROR_MAX]
    row.lease_owner = row.lease_until = row.pending_since = None
    if retryable and row.attempts < max_attempts:
        row.due_at = now + backoff(row.attempts, retry_after)
    else:
        row.state, row.due_at = FAILED, None
    session.add(row)
    return row.state


def expand(session: Session, *, notice_id: int, owner: str, users: list[str], now: datetime) -> int:
    """Replace a notice to a Slack user group by one notice per member; count those added."""
    row = session.exec(
        select(StakeholderNotice).where(StakeholderNotice.id == notice_id).with_for_update()
    ).first()
    if row is None or row.lease_owner != owner or row.state != PENDING:
        return 0
    added = 0
    if users:
        values = [
            {
                "key": notice_key(row.incident_id, row.event, row.channel, user),
                "incident_id": row.incident_id,
                "event": row.event,
                "trigger": row.trigger,
                "group_name": row.group_name,
                "quadrant": row.quadrant,
                "channel": row.channel,
                "recipient": user,
                "parent_id": row.id,
                "payload": row.payload,
                "state": PENDING,
                "due_at": now,
                "attempts": 0,
                "requested_by": row.requested_by,
                "created_at": now,
            }
            for user in dict.fromkeys(users)
        ]
        statement = insert_ignoring(session, StakeholderNotice).values(values)
        statement = statement.on_conflict_do_nothing(index_elements=["key"])
        added = len(session.execute(statement.returning(col(StakeholderNotice.id))).all())
    row.state, row.sent_at, row.due_at = SENT, now, None
    row.provider_ref = f"expanded to {len(set(users))} members"
    row.attempts += 1
    row.lease_owner = row.lease_until = row.pending_since = None
    session.add(row)
    return added


def retry_failed(session: Session, *, incident_id: int, now: datetime) -> int:
    """Send an incident's failed notices again (a fresh set of attempts); count them."""
    result = session.execute(
        update(StakeholderNotice)
        .where(
            col(StakeholderNotice.incident_id) == incident_id,
            col(StakeholderNotice.state) == FAILED,
        )
        .values(state=PENDING, due_at=now, attempts=0, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def next_due(session: Session) -> datetime | None:
    """When the next pending notice falls due."""
    return session.exec(
        select(func.min(StakeholderNotice.due_at)).where(StakeholderNotice.state == PENDING)
    ).one()
