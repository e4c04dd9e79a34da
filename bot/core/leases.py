"""Leased work rows: what status reminders and follow-ups share to send each message once.

A table of scheduled messages has one row per thing to send with its `due_at`. A replica
leases due rows with one atomic conditional UPDATE (PostgreSQL skips rows another replica is
claiming; SQLite serialises writers), renews the lease right before it posts, and finishes
with a delivery or a failure. A lease that runs out (a crashed replica) frees the row for any
replica. The tables: `storage.models_reminders.Reminder` and
`storage.models_postmortems.FollowUpReminder`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from storage.models_postmortems import FollowUpReminder
from storage.models_reminders import Reminder

RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0

Row = TypeVar("Row", Reminder, FollowUpReminder)


@dataclass(frozen=True)
class Claimed:
    """A due row this replica has leased."""

    reminder_id: int
    due_at: datetime


def _free(model: type[Row], now: datetime) -> Any:
    return or_(col(model.lease_until).is_(None), col(model.lease_until) < now)


def claim(
    session: Session, model: type[Row], *, owner: str, lease: timedelta, now: datetime, limit: int
) -> list[Claimed]:
    """Lease up to `limit` due rows to `owner` in one atomic conditional UPDATE."""
    due = col(model.due_at) <= now
    candidates = (
        select(model.id)
        .where(due, _free(model, now))
        .order_by(col(model.due_at))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(model)
        .where(col(model.id).in_(candidates), due, _free(model, now))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(col(model.id), col(model.due_at))
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(statement).all()
    return sorted((Claimed(r[0], r[1]) for r in rows), key=lambda c: (c.due_at, c.reminder_id))


def owned(session: Session, model: type[Row], reminder_id: int, owner: str) -> Row | None:
    """The row, locked, if `owner` still holds its lease."""
    row = session.exec(select(model).where(model.id == reminder_id).with_for_update()).first()
    return row if row is not None and row.lease_owner == owner else None


def release(row: Reminder | FollowUpReminder) -> None:
    """Give the lease up."""
    row.lease_owner, row.lease_until = None, None


def retry_later(
    row: Reminder | FollowUpReminder, error: str, now: datetime, retry_after: float | None
) -> None:
    """Count a failed attempt and make the row due again after an exponential back-off."""
    row.attempts += 1
    row.last_error = error[:200]
    delay = min(RETRY_BASE_SECONDS * 2 ** (row.attempts - 1), RETRY_MAX_SECONDS)
    row.due_at = now + timedelta(seconds=max(delay, retry_after or 0.0))
    release(row)


def renew(
    session: Session,
    model: type[Row],
    *,
    reminder_id: int,
    owner: str,
    lease: timedelta,
    now: datetime,
) -> bool:
    """Extend the lease right before posting; False when another replica has taken over."""
    result = session.execute(
        update(model)
        .where(col(model.id) == reminder_id, col(model.lease_owner) == owner)
        .where(col(model.lease_until) > now)
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def record_failure(
    session: Session,
    model: type[Row],
    *,
    reminder_id: int,
    owner: str,
    error: str,
    not_posted: bool,
    retry_after: float | None,
    now: datetime,
) -> None:
    """Keep a row whose post failed, to try again after a back-off."""
    row = owned(session, model, reminder_id, owner)
    if row is None:
        return
    if not_posted:  # Slack said no: nothing reached the channel under this key
        row.pending_key = row.pending_since = None
    retry_later(row, error, now, retry_after)
    session.add(row)
