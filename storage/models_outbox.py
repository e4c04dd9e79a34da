"""The outbox of side effects (imported by storage.models so Alembic sees it).

One row per committed event and subscriber that takes its kind, written in the transaction of
the change itself; the delivery engine claims, delivers and records each (a source of it,
`bot.outbox.claims`). A row is pending while `due_at` is set, delivered once `delivered_at`
is, and given up (shown to admins, retried by hand) when neither is.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, Text
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _at(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class OutboxDelivery(SQLModel, table=True):
    """One side effect of one committed event: the event, who takes it, and how it went.

    `key` is the delivery id (the subscriber and a digest of the event): unique, so the same
    event enqueued twice is delivered once, and carried by what the delivery posts so that a
    retry finds it. Rows of one incident in one `lane` are delivered one after another, in id
    order; a `barrier` row (the channel) holds back every later row that `needs_channel`.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_incident_lane", "incident_id", "lane"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=80)
    incident_id: int = Field(foreign_key="incident.id", ondelete="CASCADE")
    subscriber: str = Field(max_length=32)
    event_kind: str = Field(max_length=32)
    event: str = Field(sa_column=Column(Text(), nullable=False))
    lane: str | None = Field(default=None, max_length=32)
    barrier: bool = Field(default=False)
    needs_channel: bool = Field(default=False)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    # When to try next; NULL once delivered or given up. Ticks look up due rows by it.
    due_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    # The replica delivering it now, until when (a crashed replica's lease runs out).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    # The key of an attempt whose outcome is unknown: the subscriber looks for it first.
    pending_key: str | None = Field(default=None, max_length=80)
    pending_since: datetime | None = Field(default=None, sa_column=_at())
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=200)
    delivered_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    delivered_by: str | None = Field(default=None, max_length=64)
