"""The delivery engine: claim due work, send it once, record the outcome (the database side).

A *source* is a table of due items with lease columns (`bot.core.leases.Leased`: `due_at`,
`lease_owner`, `lease_until`, `pending_key`, `pending_since`, `attempts`, `last_error`) and
a `Source` object that says what a row means: `load` re-checks a leased row against its facts
and builds the item to send, `record` logs a delivery under its key, `plan_next` moves the
row on after one. The engine does the rest, the same way for every source:

1. `claim`: lease due rows to this replica (several replicas share one PostgreSQL; a replica
   that dies gives its rows up when the lease runs out).
2. `prepare`: still ours and still due? Fix the attempt's unique key *before* the side effect
   (`pending_key`), so that a replica that takes over after a crash knows an earlier attempt
   may have gone out and looks for that key at the destination before sending again.
3. The source's send function (beside the Slack side, run by `bot.slack.delivery.Runner`)
   makes the one call and turns the answer into a `Receipt` or a `Failure`; it has the lease
   renewed right before a re-send that follows a look-up.
4. `record_sent` / `record_failure` finish the attempt under the rules below.

Failure rules (stated here only; `bot.slack.delivery.classify` sorts Slack's answers):

    The attempt ended with                         Counts as   Then
    ---------------------------------------------  ----------  -----------------------------
    success, or its key found at the destination   delivered   logged under the key (once);
                                                               the source plans the next
    an error before the request went out (opening  not         retry after the back-off
    a DM, the look-up, `NotReady`)                 delivered
    a definite transient refusal: HTTP 429 with    not         retry after the back-off, and
    Retry-After, 408; Slack's `ratelimited`,       delivered   never before Retry-After
    `service_unavailable`, `request_timeout`
    no answer, or one that does not say: a         maybe       retry after the back-off
    timeout, a lost connection, HTTP 5xx; Slack's  delivered
    `internal_error`, `fatal_error`
    a refusal about the workspace, not the item:   not         retry after the back-off (an
    Slack's `invalid_auth`, `token_revoked`,       delivered   admin can fix it; nothing is
    `missing_scope`, ...                                       dropped)
    any other refusal: HTTP 4xx; Slack's           not         give up: `due_at` NULL, the
    `channel_not_found`, `is_archived`,            delivered   error in `last_error`, until
    `invalid_blocks`, `user_not_found`, ...                    the source plans the row again

A failed attempt counts as *not posted* (its key is dropped, so the next attempt sends at once
without looking) only when it is proven not delivered **and** no earlier attempt under the
same key may have been delivered (it was not a `check_first` attempt). Otherwise the key is
kept and the next attempt looks for it first: a look-up costs one read, a second post is a
duplicate people see. The back-off is `min(2 s * 2**(attempts - 1), 300 s)`, and at least
Retry-After; transient failures are retried without limit (an outage must not lose a message),
and a delivery resets `attempts`. A lease lost during the send: the delivery is still logged
under its key, and the row is left to the replica that holds it now.
"""

from __future__ import annotations

import logging
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import and_
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, SQLModel

from bot.core import leases
from bot.core.leases import Claimed, Leased

log = logging.getLogger(__name__)

__all__ = ["Claimed", "Leased"]

RETRY_BASE_SECONDS = 2.0
RETRY_MAX_SECONDS = 300.0
ERROR_MAX = 200  # the length of `last_error`

Row = TypeVar("Row", bound=Leased)
Item = TypeVar("Item")


class NotReady(Exception):
    """Raised by `Source.load`: the item cannot go out yet (e.g. its channel does not exist)."""


class Delivered(StrEnum):
    """What a failed attempt proves about its delivery."""

    NO = "no"  # never sent, or refused with an answer that says so
    MAYBE = "maybe"  # no answer, or one that does not say


@dataclass(frozen=True)
class Failure:
    """A failed attempt, classified by its sender (see the rules above)."""

    error: str
    delivered: Delivered
    permanent: bool = False
    retry_after: float | None = None
    what: str | None = None  # the part of the item that failed, for people ("the topic")


@dataclass(frozen=True)
class Attempt:
    """One attempt to deliver an item, under the item's unique key."""

    key: str
    check_first: bool  # an earlier attempt under `key` may have arrived: look for it first
    pending_since: datetime  # when the first attempt under `key` began


@dataclass(frozen=True)
class Job(Generic[Item]):
    """A leased, prepared item: what to send and under which attempt."""

    row_id: int
    attempt: Attempt
    item: Item


@dataclass(frozen=True)
class Receipt:
    """A delivery: when, where (a channel, an address) and the destination's reference."""

    sent_at: datetime
    destination: str
    reference: str | None
    found: bool = False  # an earlier attempt was found there: recorded, not sent again


class Leasing(Protocol):
    """What a source is configured with: at least how long a lease lasts."""

    @property
    def lease(self) -> timedelta: ...


Config = TypeVar("Config", bound=Leasing)


class Source(ABC, Generic[Row, Item, Config]):
    """A table of due items with lease columns, and what its rows mean."""

    name: str = "items"  # for logs
    model: type[Row]

    def __init__(self, policy: Config) -> None:
        self.policy = policy

    @property
    def lease(self) -> timedelta:
        """How long a claim holds before another replica may take the row over."""
        return self.policy.lease

    def channel(self, item: Item) -> str:
        """The channel an item goes out over, as metrics name it (default: the source)."""
        return self.name

    def new_key(self, row: Row, now: datetime) -> str:
        """The unique key of a new item (a destination shows it, so a look-up finds it)."""
        return uuid.uuid4().hex

    @abstractmethod
    def load(self, session: Session, row: Row, attempt: Attempt, now: datetime) -> Item | None:
        """Re-check a leased row against its facts (may move `row.due_at`) and build its item.

        None: nothing to send any more. Raise `NotReady` to try again after the back-off.
        """

    @abstractmethod
    def record(self, session: Session, item: Item, receipt: Receipt, *, owner: str) -> None:
        """Log a delivery under the item's key, once (a second call with that key is a no-op)."""

    @abstractmethod
    def plan_next(
        self, session: Session, row: Row, item: Item, receipt: Receipt, now: datetime
    ) -> None:
        """Move a delivered row on: set its next `due_at` (None: nothing more to send)."""

    def ready(self, now: datetime) -> Any:
        """A further condition a due row must meet to be claimed (None: every due row)."""
        return None

    def first(self) -> Any:
        """What due rows are claimed by before their due time, lowest first (None: by due
        time only)."""
        return None

    def gave_up(self, session: Session, row: Row, failure: Failure, now: datetime) -> None:
        """A permanent refusal gave the row up (`due_at` NULL, the error kept): react to it."""


def insert_ignoring(session: Session, table: type[SQLModel]) -> Any:
    """An INSERT of `table` for this session's database that can skip conflicting rows."""
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def log_delivery(
    session: Session,
    table: type[SQLModel],
    receipt: Receipt,
    *,
    key: str,
    sent_by: str,
    **columns: Any,
) -> None:
    """Add a delivery to a log table, once per key (columns `key` unique, `sent_at`,
    `channel_id`, `message_ts`, `sent_by`, and the source's own `columns`)."""
    session.execute(
        insert_ignoring(session, table)
        .values(
            key=key,
            sent_at=receipt.sent_at,
            channel_id=receipt.destination,
            message_ts=receipt.reference,
            sent_by=sent_by,
            **columns,
        )
        .on_conflict_do_nothing(index_elements=["key"])
    )


def backoff(attempts: int, retry_after: float | None = None) -> timedelta:
    """How long to wait after the `attempts`-th failure in a row."""
    delay = min(RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), RETRY_MAX_SECONDS)
    return timedelta(seconds=max(delay, retry_after or 0.0))


def claim(
    session: Session,
    source: Source[Row, Item, Any],
    *,
    owner: str,
    now: datetime,
    limit: int = 100,
    where: Any = None,
) -> list[Claimed]:
    """Lease up to `limit` due and ready rows of `source` to `owner`, in the source's order
    (`Source.first`), oldest first (`where`: only rows that also meet this condition)."""
    conditions = [c for c in (source.ready(now), where) if c is not None]
    return leases.claim(
        session,
        source.model,
        owner=owner,
        lease=source.lease,
        now=now,
        limit=limit,
        where=and_(*conditions) if conditions else None,
        first=source.first(),
    )


def _retry_later(row: Leased, error: str, now: datetime, retry_after: float | None) -> None:
    row.attempts += 1
    row.last_error = error[:ERROR_MAX]
    row.due_at = now + backoff(row.attempts, retry_after)
    leases.release(row)


def prepare(
    session: Session, source: Source[Row, Item, Any], claimed: Claimed, *, owner: str, now: datetime
) -> Job[Item] | None:
    """Check a leased row is still ours and due, fix its key; None when nothing goes out."""
    row = leases.owned(session, source.model, claimed.row_id, owner)
    if row is None:
        return None
    attempt = Attempt(
        key=row.pending_key or source.new_key(row, now),
        check_first=row.pending_key is not None,
        pending_since=row.pending_since or now,
    )
    try:
        item = source.load(session, row, attempt, now)
    except NotReady as why:
        _retry_later(row, str(why), now, None)
        session.add(row)
        return None
    if item is None or row.due_at is None or row.due_at > now:
        leases.release(row)  # done, or moved later (an update, a snooze) since it was claimed
        session.add(row)
        return None
    row.pending_key, row.pending_since = attempt.key, attempt.pending_since
    row.lease_until = now + source.lease
    session.add(row)
    return Job(row_id=claimed.row_id, attempt=attempt, item=item)


def renew(
    session: Session, source: Source[Row, Item, Any], job: Job[Item], *, owner: str, now: datetime
) -> bool:
    """Extend the lease right before sending; False when another replica has taken over."""
    return leases.renew(
        session, source.model, row_id=job.row_id, owner=owner, lease=source.lease, now=now
    )


def record_sent(
    session: Session,
    source: Source[Row, Item, Any],
    job: Job[Item],
    receipt: Receipt,
    *,
    owner: str,
    now: datetime,
) -> bool:
    """Log a delivery and plan the next; False when the lease was lost (logged all the same)."""
    source.record(session, job.item, receipt, owner=owner)
    row = leases.owned(session, source.model, job.row_id, owner)
    if row is None:
        log.warning("%s %s was taken over while it was sent", source.name, job.row_id)
        return False
    row.pending_key = row.pending_since = row.last_error = None
    row.attempts = 0
    leases.release(row)
    source.plan_next(session, row, job.item, receipt, now)
    session.add(row)
    return True


def record_failure(
    session: Session,
    source: Source[Row, Item, Any],
    job: Job[Item],
    failure: Failure,
    *,
    owner: str,
    now: datetime,
) -> None:
    """Finish a failed attempt under the failure rules (module docstring)."""
    row = leases.owned(session, source.model, job.row_id, owner)
    if row is None:
        return
    if failure.delivered is Delivered.NO and not job.attempt.check_first:
        row.pending_key = row.pending_since = None  # nothing under this key went out
    if failure.permanent:
        row.attempts += 1
        row.last_error = f"gave up: {failure.error}"[:ERROR_MAX]
        row.due_at = None
        leases.release(row)
        source.gave_up(session, row, failure, now)
    else:
        _retry_later(row, failure.error, now, failure.retry_after)
    session.add(row)
