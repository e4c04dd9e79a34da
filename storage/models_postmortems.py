"""Post-mortem and action item tables (imported by storage.models so Alembic sees them).

`postmortem` is one document per incident: the sections people wrote (NULL: not written yet,
the bot drafts from what it knows), owner, due date and the latest rendering. `action_item`
rows are the follow-up work. `followup_reminder` is the durable schedule of the owners'
reminders (leased to one replica at a time, like `reminder`), `followup_delivery` records
each reminder sent under a unique key (one per subject and day).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _at(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class PostMortem(SQLModel, table=True):
    """An incident's post-mortem: written sections, owner, due date, latest document."""

    __tablename__ = "postmortem"
    # Readiness's post-mortem habit reads only these (from the index alone; migration 0021).
    __table_args__ = (Index("ix_postmortem_due", "incident_id", "due_on", "completed_at"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True, ondelete="CASCADE")
    # What people wrote in the edit form; NULL means "not written: draft from the facts".
    summary: str | None = Field(default=None)
    impact: str | None = Field(default=None)
    root_cause: str | None = Field(default=None)
    resolution: str | None = Field(default=None)
    # NULL: whoever is the incident manager.
    owner: str | None = Field(default=None, max_length=32)
    due_on: date | None = Field(default=None)
    completed_at: datetime | None = Field(default=None, sa_column=_at())
    completed_by: str | None = Field(default=None, max_length=32)
    # The latest rendering (internal and customer-facing) and where it was last posted.
    version: int = Field(default=0)
    document: str = Field(default="")
    customer: str = Field(default="")
    rendered_at: datetime | None = Field(default=None, sa_column=_at())
    channel_id: str | None = Field(default=None, max_length=32)
    file_ts: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    edited_by: str | None = Field(default=None, max_length=32)
    edited_at: datetime | None = Field(default=None, sa_column=_at())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))


class ActionItem(SQLModel, table=True):
    """Work an incident leaves behind, with an owner, an optional due date and a state."""

    __tablename__ = "action_item"
    __table_args__ = (Index("ix_action_item_owner_state", "owner", "state"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    text: str
    owner: str = Field(max_length=32)
    due_on: date | None = Field(default=None)
    state: str = Field(default="open", max_length=8)
    # command, shortcut or reaction; the message it came from, if any.
    via: str = Field(max_length=16)
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=512)
    # Makes a repeated request (a double-submitted form, a second reaction) create one item.
    source_key: str | None = Field(default=None, unique=True, max_length=128)
    created_by: str = Field(max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    completed_by: str | None = Field(default=None, max_length=32)
    completed_at: datetime | None = Field(default=None, sa_column=_at())


class FollowUpReminder(SQLModel, table=True):
    """The next reminder to the owner of one action item or post-mortem, and its lease."""

    __tablename__ = "followup_reminder"
    __table_args__ = (UniqueConstraint("kind", "subject_id", name="uq_followup_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    # action_item or postmortem; subject_id is that row's id.
    kind: str = Field(max_length=16)
    subject_id: int
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    # When it goes out next; NULL: never (done, complete, no due date).
    due_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    last_sent_at: datetime | None = Field(default=None, sa_column=_at())
    sent_count: int = Field(default=0)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    # The key of a post whose outcome is unknown: look for it in Slack before posting again.
    pending_key: str | None = Field(default=None, max_length=96)
    pending_since: datetime | None = Field(default=None, sa_column=_at())
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=200)


class FollowUpDelivery(SQLModel, table=True):
    """One reminder sent to an owner (the key names subject and day: once per day at most)."""

    __tablename__ = "followup_delivery"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=96)
    kind: str = Field(max_length=16)
    subject_id: int
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    recipient: str = Field(max_length=32)
    sent_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    channel_id: str = Field(max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    sent_by: str = Field(max_length=64)
