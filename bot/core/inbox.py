"""The inbox: every request from Slack is kept until it has been processed, and processed once.

A row's life (the table: `storage.models_inbox.InboxRequest`):

- `record`: at intake, before Slack gets its answer, in one short transaction. The row is
  leased to the replica that received it. A second delivery of the same request (the same
  natural key: the Events API `event_id`, otherwise a hash of the body) inserts nothing.
- `fence`: the first write transaction made while processing a row checks, in the same
  transaction, that this replica still holds the row's lease, and marks the row applied. The
  request's first write and "it has been applied" commit together; a replica that lost the
  lease before it (it stalled, another took over) cannot commit the request's writes. (A
  request kept by its listener's first write is inserted applied, in that transaction.)
- `renew`: the replica processing a row extends its lease while it works.
- `finish`: processing is over (whatever its outcome: errors were told to the user).
- `claim`: any replica takes rows that are unprocessed and leased to nobody alive (the lease
  ran out: a crashed replica) to process them again. A row already applied is not run again
  from the start: its writes are committed; only what comes after them is resumed.
- `trim`: retention; processed rows older than a configurable age are deleted.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Insert,
    Integer,
    String,
    bindparam,
    column,
    delete,
    func,
    literal_column,
    or_,
    update,
)
from sqlalchemy import select as core_select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from storage.models_inbox import InboxRequest
from storage.types import UTCDateTime

KINDS = ("events_api", "slash_commands", "interactive")  # Socket Mode's envelope types
MAX_ATTEMPTS = 5  # a row whose processing crashed the bot this often is given up


class InboxSuperseded(Exception):
    """This replica no longer holds the request's lease: another replica processes it."""


class NotKept(Exception):
    """The request could not be kept (the database failed): it must not be answered 200."""


@dataclass(frozen=True)
class Claimed:
    """A row this replica has leased, to process (again)."""

    id: int
    key: str
    kind: str
    mode: str
    content_type: str
    body: str
    attempts: int
    applied: bool


def key_for(*, event_id: str | None, body: bytes) -> str:
    """The natural key: the Events API event id, otherwise the SHA-256 of the body."""
    if event_id:
        return f"event:{event_id[:80]}"
    return "body:" + hashlib.sha256(body).hexdigest()


_INBOX = InboxRequest.__table__  # type: ignore[attr-defined]

# The statements of every request's path (record, fence, finish) are plain Core statements
# with bound parameters, built once: an ORM-enabled UPDATE or INSERT costs several hundred
# microseconds of CPU per execution in SQLAlchemy's ORM layer, a Core one a few dozen.
_FENCE = (
    update(_INBOX)
    .where(
        _INBOX.c.id == bindparam("row_id"),
        _INBOX.c.lease_owner == bindparam("owner"),
        _INBOX.c.processed_at.is_(None),
    )
    .values(applied_at=func.coalesce(_INBOX.c.applied_at, bindparam("now", type_=UTCDateTime())))
)
_FINISH = (
    update(_INBOX)
    .where(
        _INBOX.c.id == bindparam("row_id"),
        _INBOX.c.lease_owner == bindparam("owner"),
        _INBOX.c.processed_at.is_(None),
    )
    .values(
        processed_at=bindparam("now", type_=UTCDateTime()),
        lease_until=None,
        error=bindparam("error"),
    )
)
_FINISH_MANY = (
    update(_INBOX)
    .where(
        _INBOX.c.id.in_(bindparam("row_ids", expanding=True)),
        _INBOX.c.lease_owner == bindparam("owner"),
        _INBOX.c.processed_at.is_(None),
    )
    .values(processed_at=bindparam("now", type_=UTCDateTime()), lease_until=None)
)


def new_row(
    request: tuple[str, str, str, str, str, str], *, lease: timedelta, now: datetime
) -> dict[str, Any]:
    """The inbox row of a new request (key, kind, mode, content type, body, owner)."""
    key, kind, mode, content_type, body, owner = request
    return {
        "key": key,
        "kind": kind,
        "mode": mode,
        "content_type": content_type[:64],
        "body": body,
        "received_at": now,
        "lease_owner": owner,
        "lease_until": now + lease,
        "attempts": 1,
        "applied_at": None,
        "processed_at": None,
        "error": None,
    }


@functools.cache
def keep_statement(dialect: str) -> Insert:
    """INSERT of `new_row`s that skips known keys and returns (key, id) of those kept."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(_INBOX).on_conflict_do_nothing().returning(_INBOX.c.key, _INBOX.c.id)


# What varies from one request to the next in a batch (`keep_many_statement`).
_KEPT_FIELDS = ("key", "kind", "mode", "content_type", "body", "lease_owner")


@functools.cache
def keep_many_statement() -> Insert:
    """PostgreSQL: `keep_statement` for any number of requests in one statement of one
    shape (prepared once by the server), from `many_params`: the requests as one JSON
    array, and the times they share.

    (One JSON text costs the client far less than one parameter per value or one array per
    column, whose strings psycopg escapes one by one in Python. Its strings are unbounded:
    a value too long for its column fails the INSERT, as in `keep_statement`.)"""
    kept = (
        func.json_to_recordset(bindparam("requests", type_=postgresql.JSON()))
        .table_valued(*(column(name, String()) for name in _KEPT_FIELDS))
        .render_derived(name="kept", with_types=True)  # AS kept(key VARCHAR, ...)
    )
    rows = core_select(
        *(kept.c[name] for name in _KEPT_FIELDS),
        bindparam("received_at", type_=UTCDateTime()),
        bindparam("lease_until", type_=UTCDateTime()),
        literal_column("1", Integer()),
    )
    names = [*_KEPT_FIELDS, "received_at", "lease_until", "attempts"]
    insert = postgresql.insert(_INBOX).from_select(names, rows)
    return insert.on_conflict_do_nothing().returning(_INBOX.c.key, _INBOX.c.id)


def many_params(
    requests: Sequence[tuple[str, str, str, str, str, str]], *, lease: timedelta, now: datetime
) -> dict[str, Any]:
    """What `keep_many_statement` binds for requests (key, kind, mode, content type, body,
    owner) kept at `now`, each leased to its owner for `lease`: the rows of `new_row`."""
    rows = [new_row(request, lease=lease, now=now) for request in requests]
    found = [{name: row[name] for name in _KEPT_FIELDS} for row in rows]
    shared = rows[0]  # (every row of a batch is kept at the same time, for the same lease)
    return {
        "requests": json.dumps(found),
        "received_at": shared["received_at"],
        "lease_until": shared["lease_until"],
    }


def record(
    session: Session | Connection,
    *,
    key: str,
    kind: str,
    mode: str,
    content_type: str,
    body: str,
    owner: str,
    lease: timedelta,
    now: datetime,
    applied: bool = False,
) -> int | None:
    """Keep a new request, leased to `owner`; None when a request with this key is known.

    `applied`: kept by the request's first write transaction (see `fence`).
    """
    connection = session.connection() if isinstance(session, Session) else session
    values = new_row((key, kind, mode, content_type, body, owner), lease=lease, now=now)
    if applied:
        values["applied_at"] = now
    row = connection.execute(keep_statement(connection.dialect.name), values).first()
    return None if row is None else int(row.id)


def record_many(
    connection: Connection,
    requests: Sequence[tuple[str, str, str, str, str, str]],
    *,
    lease: timedelta,
    now: datetime,
) -> list[int | None]:
    """Keep new requests (key, kind, mode, content type, body, owner) in one statement, each
    leased to its owner; None for each whose key is known (or repeated in `requests`)."""
    rows = [new_row(request, lease=lease, now=now) for request in requests]
    statement = keep_statement(connection.dialect.name)  # (built and compiled once)
    result = connection.execute(statement, rows[0] if len(rows) == 1 else rows)
    return in_order(requests, dict(result.all()))  # (SQLAlchemy's "insertmanyvalues")


def in_order(requests: Sequence[tuple[str, ...]], kept: dict[str, int]) -> list[int | None]:
    """The row id of each request (key first) that `keep_statement` returned in `kept`
    (key: id), in the order of `requests`; None for each not kept."""
    found: list[int | None] = []
    for key, *_ in requests:
        row_id = kept.pop(key, None)  # (a key twice in one batch: the first one is kept)
        found.append(None if row_id is None else int(row_id))
    return found


def fence(session: Session, *, row_id: int, owner: str, now: datetime) -> None:
    """In a write transaction of the request's processing: check the lease, mark it applied.

    Raises InboxSuperseded (which rolls the transaction back) when `owner` lost the lease.
    """
    result = session.connection().execute(_FENCE, {"row_id": row_id, "owner": owner, "now": now})
    if not result.rowcount:
        raise InboxSuperseded(f"inbox request {row_id} is no longer leased to {owner}")


def renew(
    session: Session, *, row_ids: list[int], owner: str, lease: timedelta, now: datetime
) -> set[int]:
    """Extend `owner`'s leases on these rows; returns the ids it still holds."""
    if not row_ids:
        return set()
    rows = session.execute(
        update(InboxRequest)
        .where(col(InboxRequest.id).in_(row_ids), col(InboxRequest.lease_owner) == owner)
        .where(col(InboxRequest.processed_at).is_(None))
        .values(lease_until=now + lease)
        .returning(col(InboxRequest.id))
        .execution_options(synchronize_session=False)
    ).all()
    return {int(r[0]) for r in rows}


def finish(
    session: Session, *, row_id: int, owner: str, now: datetime, error: str | None = None
) -> bool:
    """Mark the row processed and release it (`lease_owner` stays: who processed it); False
    when `owner` no longer held it."""
    result = session.connection().execute(
        _FINISH,
        {"row_id": row_id, "owner": owner, "now": now, "error": error[:200] if error else None},
    )
    return bool(result.rowcount)


def finish_many(session: Session, *, row_ids: list[int], owner: str, now: datetime) -> int:
    """Mark rows processed and release them (those `owner` still held; `lease_owner` stays:
    who processed them); returns how many."""
    if not row_ids:
        return 0
    result = session.connection().execute(
        _FINISH_MANY, {"row_ids": row_ids, "owner": owner, "now": now}
    )
    return int(result.rowcount)


def claim(
    session: Session, *, owner: str, lease: timedelta, now: datetime, limit: int
) -> list[Claimed]:
    """Lease up to `limit` unprocessed rows nobody holds, oldest first, in one atomic UPDATE."""
    free = or_(col(InboxRequest.lease_until).is_(None), col(InboxRequest.lease_until) < now)
    pending = col(InboxRequest.processed_at).is_(None)
    candidates = (
        select(InboxRequest.id)
        .where(pending, free)
        .order_by(col(InboxRequest.id))
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    table = InboxRequest
    rows = session.execute(
        update(table)
        .where(col(table.id).in_(candidates), pending, free)
        .values(lease_owner=owner, lease_until=now + lease, attempts=col(table.attempts) + 1)
        .returning(
            col(table.id),
            col(table.key),
            col(table.kind),
            col(table.mode),
            col(table.content_type),
            col(table.body),
            col(table.attempts),
            col(table.applied_at),
        )
        .execution_options(synchronize_session=False)
    ).all()
    claimed = [Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7] is not None) for r in rows]
    return sorted(claimed, key=lambda c: c.id)


def trim(session: Session, *, before: datetime, limit: int = 1000) -> int:
    """Delete up to `limit` rows processed before `before`; returns how many."""
    old = (
        select(InboxRequest.id)
        .where(col(InboxRequest.processed_at) < before)
        .order_by(col(InboxRequest.id))
        .limit(limit)
    )
    result = session.execute(
        delete(InboxRequest)
        .where(col(InboxRequest.id).in_(old))
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def kept(session: Session, keys: Sequence[str]) -> set[str]:
    """Which of these request keys the inbox holds (kept, processed or not)."""
    if not keys:
        return set()
    statement = select(InboxRequest.key).where(col(InboxRequest.key).in_(list(keys)))
    return set(session.exec(statement).all())


def unprocessed(session: Session) -> int:
    """How many rows wait for processing (for health and tests)."""
    return int(
        session.exec(select(func.count()).where(col(InboxRequest.processed_at).is_(None))).one()
    )
