"""Timeline tables (imported by storage.models so Alembic sees them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _utc(*, nullable: bool = True) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable)


class TimelineEntry(SQLModel, table=True):
    """One line of an incident's timeline: a captured message, a note, or the bot's own record.

    A Slack message is on an incident's timeline at most once (`uq_timeline_message`; notes and
    the bot's entries have no message, and NULLs never clash). The bot's own entries carry an
    `event_key` so one incident event is recorded once (`uq_timeline_event`).
    """

    __tablename__ = "timeline_entry"
    __table_args__ = (
        UniqueConstraint("incident_id", "channel_id", "message_ts", name="uq_timeline_message"),
        UniqueConstraint("incident_id", "event_key", name="uq_timeline_event"),
        Index("ix_timeline_entry_incident_time", "incident_id", "occurred_at"),
        Index("ix_timeline_entry_message", "channel_id", "message_ts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", ondelete="CASCADE")
    # message (captured from Slack), note (/incident note) or event (recorded by the bot).
    kind: str = Field(max_length=16)
    # When it happened: the message's own ts, the note's time, the change's commit time.
    occurred_at: datetime = Field(sa_column=_utc(nullable=False))
    author: str | None = Field(default=None, max_length=32)
    author_name: str = Field(default="", max_length=128)
    # Readable text: Slack's mention and link markup already rendered.
    text: str = Field(default="")
    # File names attached to the message, one per line.
    files: str = Field(default="")
    channel_id: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    thread_ts: str | None = Field(default=None, max_length=32)
    permalink: str | None = Field(default=None, max_length=512)
    # reaction, shortcut, command or bot: how the entry got onto the timeline.
    added_via: str = Field(max_length=16)
    added_by: str | None = Field(default=None, max_length=32)
    event_key: str | None = Field(default=None, max_length=96)
    # The `edited.ts` of the version of the message the text comes from (ignores stale edits).
    edited_ts: str | None = Field(default=None, max_length=32)
    deleted_at: datetime | None = Field(default=None, sa_column=_utc())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
