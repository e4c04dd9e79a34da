"""Reminder tables (imported by storage.models so Alembic sees them).

`reminder` is the durable schedule: one row per open incident and kind, with its next due
time. Replicas claim due rows with an atomic conditional update (a lease), so each reminder
goes out once; `reminder_delivery` records every reminder posted, one row per unique key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _at(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class Reminder(SQLModel, table=True):
    """The next reminder of one kind for one incident, and who is sending it right now."""

    __tablename__ = "reminder"
    __table_args__ = (UniqueConstraint("incident_id", "kind", name="uq_reminder_incident_kind"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", ondelete="CASCADE")
    kind: str = Field(max_length=16)
    # The incident facts the plan was made from (a change means: plan again).
    severity: str = Field(default="", max_length=8)
    incident_open: bool = Field(default=True)
    # The clock: last update (kind update) or since when nobody manages it (kind no_manager).
    anchor_at: datetime | None = Field(default=None, sa_column=_at())
    last_sent_at: datetime | None = Field(default=None, sa_column=_at())
    sent_count: int = Field(default=0)
    snoozed_until: datetime | None = Field(default=None, sa_column=_at())
    planned_at: datetime | None = Field(default=None, sa_column=_at())
    # When it goes out next; NULL: nothing planned. Ticks look up due rows by this index.
    due_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    # The replica sending it now, until when (a crashed replica's lease runs out).
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    # The key of a post whose outcome is unknown: look for it in Slack before posting again.
    pending_key: str | None = Field(default=None, max_length=64)
    pending_since: datetime | None = Field(default=None, sa_column=_at())
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=200)


class ReminderDelivery(SQLModel, table=True):
    """One reminder posted to Slack (its key is unique: a reminder is recorded once)."""

    __tablename__ = "reminder_delivery"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=64)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    kind: str = Field(max_length=16)
    due_at: datetime = Field(sa_column=_at(nullable=False))
    sent_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    channel_id: str = Field(max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    sent_by: str = Field(max_length=64)
