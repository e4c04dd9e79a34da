"""Leases on rows of a table of due items: which replica works on which row, for how long.

A source table (see `bot.core.delivery`) has one row per thing to deliver, with `due_at` and
the lease columns `lease_owner` and `lease_until`. A replica leases due rows with one atomic
conditional UPDATE (PostgreSQL skips rows another replica is claiming; SQLite serialises
writers), renews the lease right before a side effect, and releases it when done. A lease
that runs out (a replica that died) frees the row for any replica. Nothing here knows what
a row is about.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import or_, true, update
from sqlmodel import Session, col, select


class Leased(Protocol):
    """The columns every source table has (its rows are SQLModel instances)."""

    id: int | None
    due_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    pending_key: str | None
    pending_since: datetime | None
    attempts: int
    last_error: str | None


Row = TypeVar("Row", bound=Leased)


@dataclass(frozen=True)
class Claimed:
    """A due row this replica has leased."""

    row_id: int
    due_at: datetime


def _free(table: Any, now: datetime) -> Any:
    return or_(col(table.lease_until).is_(None), col(table.lease_until) < now)


def claim(
    session: Session,
    model: type[Row],
    *,
    owner: str,
    lease: timedelta,
    now: datetime,
    limit: int,
    where: Any = None,
    first: Any = None,
) -> list[Claimed]:
    """Lease up to `limit` due rows to `owner` in one atomic conditional UPDATE, oldest first.

    `where`: a further condition on the rows (which rows are ready, which are wanted).
    `first`: an expression the rows are ordered by before their due time (lowest first).
    """
    table: Any = model
    due = col(table.due_at) <= now
    order = [col(table.due_at)] if first is None else [first, col(table.due_at)]
    candidates = (
        select(table.id)
        .where(due, _free(table, now), true() if where is None else where)
        .order_by(*order)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    statement = (
        update(table)
        .where(col(table.id).in_(candidates), due, _free(table, now))
        .values(lease_owner=owner, lease_until=now + lease)
        .returning(col(table.id), col(table.due_at))
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(statement).all()
    return sorted((Claimed(r[0], r[1]) for r in rows), key=lambda c: (c.due_at, c.row_id))


def owned(session: Session, model: type[Row], row_id: int, owner: str) -> Row | None:
    """The row, locked, if `owner` still holds its lease."""
    table: Any = model
    row = session.exec(select(table).where(table.id == row_id).with_for_update()).first()
    return cast("Row", row) if row is not None and row.lease_owner == owner else None


def release(row: Leased) -> None:
    """Give the lease up."""
    row.lease_owner, row.lease_until = None, None


def renew(
    session: Session, model: type[Row], *, row_id: int, owner: str, lease: timedelta, now: datetime
) -> bool:
    """Extend a lease `owner` still holds; False when it ran out or another replica has it."""
    table: Any = model
    result = session.execute(
        update(table)
        .where(col(table.id) == row_id, col(table.lease_owner) == owner)
        .where(col(table.lease_until) > now)
        .values(lease_until=now + lease)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
