"""Per-person rate limits on declaring and on costly requests, held in the database.

RATE_LIMITS is `declare=5/1m,costly=30/1m`: at most that many requests per person in that
time (`off` lifts a limit). Each person and bucket is a token bucket in the `rate_limit` table:
it holds up to `count` tokens and refills `count` of them over `per`; a request takes one.
Every replica updates the row under a row lock (SQLite: the one write lock), so the limit
holds however many replicas serve the requests.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Executable, bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from bot.core.errors import DomainError
from storage.models_limits import RateLimit
from storage.types import utcnow

DEFAULT_LIMITS = "declare=5/1m,costly=30/1m"
_TABLE = RateLimit.__table__  # type: ignore[attr-defined]  # (Core: on an answer's way)
_LIMIT = re.compile(r"^([0-9]{1,5})\s*/\s*([0-9]{0,6})\s*([smh])$")
_UNITS = {"s": 1, "m": 60, "h": 3600}


class Bucket(StrEnum):
    """What is counted."""

    DECLARE = "declare"  # declaring an incident (a channel, invitations, messages)
    COSTLY = "costly"  # requests that make the bot do much work (lists, uploads, documents)

    @property
    def noun(self) -> str:
        """What one request of this bucket is called in a message."""
        return "declarations" if self is Bucket.DECLARE else "requests like this one"


@dataclass(frozen=True)
class Limit:
    """At most `count` requests per `per`, per person."""

    count: int
    per: timedelta

    @property
    def period(self) -> str:
        """`minute`, `2 minutes`, `30 seconds`."""
        seconds = int(self.per.total_seconds())
        for unit, size in (("hour", 3600), ("minute", 60), ("second", 1)):
            if seconds % size == 0:
                amount = seconds // size
                return unit if amount == 1 else f"{amount} {unit}s"
        raise AssertionError("unreachable")


@dataclass(frozen=True)
class Cost:
    """What one request takes from a person's limits: one from `bucket` (only a look, with
    `peek`: opening the declare form checks the limit, submitting it takes from it).

    `in_write`: taken in the transaction that keeps the request (see handlers/access.charge),
    for a listener that acknowledges before it writes and catches Throttled from its ack."""

    bucket: Bucket
    peek: bool = False
    in_write: bool = False


COSTLY = Cost(Bucket.COSTLY)
DECLARE = Cost(Bucket.DECLARE, in_write=True)
OPENS_DECLARE = Cost(Bucket.DECLARE, peek=True)


class Throttled(DomainError):
    """A person has used up a limit; says how long to wait."""

    def __init__(self, message: str, *, wait: timedelta) -> None:
        super().__init__(message)
        self.wait = wait


def parse_limits(text: str) -> dict[Bucket, Limit | None]:
    """RATE_LIMITS as written (unnamed buckets keep their defaults); ValueError saying why."""
    limits: dict[Bucket, Limit | None] = {}
    if text != DEFAULT_LIMITS:
        limits = parse_limits(DEFAULT_LIMITS)
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, sep, value = (s.strip().lower() for s in part.partition("="))
        try:
            bucket = Bucket(name)
        except ValueError:
            valid = ", ".join(b.value for b in Bucket)
            raise ValueError(f"unknown limit `{name}`; the limits are: {valid}") from None
        if not sep:
            raise ValueError(f"`{part}` needs `=`, like {bucket.value}=5/1m")
        limits[bucket] = _limit(bucket, value)
    return limits


def _limit(bucket: Bucket, value: str) -> Limit | None:
    if value == "off":
        return None
    match = _LIMIT.match(value)
    amount = int(match.group(2) or "1") if match else 0
    if match is None or int(match.group(1)) <= 0 or amount <= 0:
        raise ValueError(
            f"`{value}` for {bucket.value} is not a limit: write a count per duration, like "
            "5/1m, 100/1h or 10/30s, or off"
        )
    return Limit(int(match.group(1)), timedelta(seconds=amount * _UNITS[match.group(3)]))


def take(
    session: Session,
    *,
    user_id: str,
    bucket: Bucket,
    limit: Limit,
    now: datetime | None = None,
    peek: bool = False,
) -> timedelta | None:
    """Take one request from `user_id`'s `bucket` (only look, with `peek`).

    None when the request may go ahead; otherwise how long until one may.
    """
    now = now or utcnow()
    # One statement adds a full bucket for someone new, locks the row (PostgreSQL: the other
    # replicas' takes wait for this transaction) and reads it: a no-op update on conflict.
    read, write = _statements(session.get_bind().dialect.name)
    connection = session.connection()  # (Core on the table: no ORM on an answer's way)
    key = {"person": user_id, "kind": bucket.value}
    full = float(limit.count)
    held, updated_at = connection.execute(read, {**key, "full": full, "at": now}).one()
    tokens = _refilled(held, updated_at, limit, now)
    wait = waiting(tokens, limit)
    if wait is None and not peek:
        tokens -= 1.0
    connection.execute(write, {**key, "left": tokens, "at": now})
    return wait


@functools.cache
def _statements(dialect: str) -> tuple[Executable, Executable]:
    """`take`'s two statements for `dialect`, built once (their SQL is then compiled once)."""
    columns = _TABLE.c
    at = bindparam("at", type_=columns.updated_at.type)
    key = (columns.user_id == bindparam("person"), columns.bucket == bindparam("kind"))
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    read = (
        insert(_TABLE)
        .values(
            user_id=bindparam("person"),
            bucket=bindparam("kind"),
            tokens=bindparam("full"),
            updated_at=at,
        )
        .on_conflict_do_update(
            index_elements=[columns.user_id, columns.bucket],
            set_={"tokens": columns.tokens},
        )
        .returning(columns.tokens, columns.updated_at)
    )
    write = update(_TABLE).where(*key).values(tokens=bindparam("left"), updated_at=at)
    return read, write


@functools.cache
def _read_statement() -> Executable:
    """`available`'s query, built once (Core on the connection, as `take`'s)."""
    columns = _TABLE.c
    return select(columns.tokens, columns.updated_at).where(
        columns.user_id == bindparam("person"), columns.bucket == bindparam("kind")
    )


def available(
    session: Session, *, user_id: str, bucket: Bucket, limit: Limit, now: datetime | None = None
) -> float:
    """The tokens `user_id` has in `bucket` now: a read, which takes nothing (and so needs no
    write lock: web/journal.py answers the declare form on SQLite with it)."""
    row = (
        session.connection()
        .execute(_read_statement(), {"person": user_id, "kind": bucket.value})
        .first()
    )
    if row is None:
        return float(limit.count)
    return _refilled(row[0], row[1], limit, now or utcnow())


def waiting(tokens: float, limit: Limit) -> timedelta | None:
    """How long until one request may go ahead with `tokens` (None: it may now)."""
    if tokens >= 1.0:
        return None
    per_token = limit.per.total_seconds() / limit.count
    return timedelta(seconds=math.ceil(round((1.0 - tokens) * per_token, 6)))


def _refilled(held: float, updated_at: datetime, limit: Limit, now: datetime) -> float:
    per_token = limit.per.total_seconds() / limit.count
    elapsed = max(0.0, (now - updated_at).total_seconds())
    return min(float(limit.count), held + elapsed / per_token)


def refusal(bucket: Bucket, limit: Limit, wait: timedelta) -> Throttled:
    """The error for a person who has used up `limit` and must wait `wait`."""
    seconds = max(1, int(wait.total_seconds()))
    after = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
    return Throttled(
        f"Slow down: at most {limit.count} {bucket.noun} per {limit.period} per person. "
        f"Try again in {after}; nothing was done.",
        wait=wait,
    )
