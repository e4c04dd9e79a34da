"""SQLModel tables. Every table is registered here so Alembic sees it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def utc_column(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    """A timezone-aware timestamp column."""
    return Column(UTCDateTime(), nullable=nullable, index=index)


class EventReceipt(SQLModel, table=True):
    """An Events API delivery already handled; its primary key makes handling exactly once."""

    __tablename__ = "event_receipt"

    event_id: str = Field(primary_key=True, max_length=64)
    event_type: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class IncidentBase(SQLModel):
    """Fields a person gives when declaring an incident."""

    title: str = Field(max_length=150)
    severity: str = Field(max_length=8)
    summary: str = Field(default="")
    impact: str = Field(default="")
    private: bool = Field(default=False)
    # A drill (practice): never public, never outside its channel, not in the figures.
    is_drill: bool = Field(default=False)


class Incident(IncidentBase, table=True):
    """An incident, its Slack surfaces, and the timestamps metrics are computed from."""

    __tablename__ = "incident"

    id: int | None = Field(default=None, primary_key=True)
    number: int = Field(unique=True, index=True)
    status: str = Field(default="investigating", max_length=16, index=True)
    declared_by: str = Field(max_length=32)
    # Makes a double-submitted declare modal create one incident (unique in the database).
    declare_key: str = Field(unique=True, max_length=128)
    origin_channel_id: str | None = Field(default=None, max_length=32)
    origin_message_ts: str | None = Field(default=None, max_length=32)
    origin_permalink: str | None = Field(default=None, max_length=512)
    channel_id: str | None = Field(default=None, unique=True, max_length=32)
    channel_name: str | None = Field(default=None, max_length=80)
    card_ts: str | None = Field(default=None, max_length=32)
    broadcast_channel_id: str | None = Field(default=None, max_length=32)
    broadcast_ts: str | None = Field(default=None, max_length=32)
    setup_state: str = Field(default="pending", max_length=16)
    setup_error: str | None = Field(default=None)
    resolution: str = Field(default="")
    # Lifecycle timestamps: metrics come from these, never from a row's modification time.
    declared_at: datetime = Field(sa_column=utc_column(nullable=False))
    # When the incident was detected: the earliest start of an alert linked to it (or the
    # declaration, if that came first); NULL when no alert is linked (no time to detect).
    detected_at: datetime | None = Field(default=None, sa_column=utc_column())
    acknowledged_at: datetime | None = Field(default=None, sa_column=utc_column())
    identified_at: datetime | None = Field(default=None, sa_column=utc_column())
    monitoring_at: datetime | None = Field(default=None, sa_column=utc_column())
    resolved_at: datetime | None = Field(default=None, sa_column=utc_column())
    last_update_at: datetime | None = Field(default=None, sa_column=utc_column())
    # Seconds from one milestone to another, kept by the database itself (triggers of
    # migration 0018) whenever the timestamps change, so insights aggregate plain numbers:
    # detected -> declared, and declared -> acknowledged, identified, mitigated, resolved.
    # Never written by the bot (NULL until both timestamps exist).
    detect_seconds: float | None = Field(default=None)
    acknowledge_seconds: float | None = Field(default=None)
    identify_seconds: float | None = Field(default=None)
    mitigate_seconds: float | None = Field(default=None)
    resolve_seconds: float | None = Field(default=None)
    updated_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class IncidentRole(SQLModel, table=True):
    """Who holds a role (incident manager, communications lead, scribe) in an incident."""

    __tablename__ = "incident_role"
    __table_args__ = (UniqueConstraint("incident_id", "role", name="uq_incident_role"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    role: str = Field(max_length=32)
    user_id: str = Field(max_length=32)
    assigned_by: str = Field(max_length=32)
    assigned_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class IncidentUpdate(SQLModel, table=True):
    """A status update posted to the incident's channel and under its broadcast card."""

    __tablename__ = "incident_update"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    author: str = Field(max_length=32)
    message: str
    status: str | None = Field(default=None, max_length=16)
    posted_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    channel_ts: str | None = Field(default=None, max_length=32)
    broadcast_ts: str | None = Field(default=None, max_length=32)


class IncidentSilence(SQLModel, table=True):
    """The gaps between an incident's declaration, its updates and its resolution, kept by
    the database (triggers of migration 0021) for readiness's update cadence: the longest,
    and how long after the declaration the last of them came (seconds). Never written by the
    bot; a table of its own, so posting an update does not rewrite the wide incident row."""

    __tablename__ = "incident_silence"

    incident_id: int = Field(primary_key=True, foreign_key="incident.id", ondelete="CASCADE")
    longest_silence_seconds: float | None = Field(default=None)
    last_word_seconds: float | None = Field(default=None)


# Feature tables live in their own modules; importing them registers them on the metadata.
from storage import (  # noqa: E402, F401
    models_alerts,
    models_drills,
    models_inbox,
    models_library,
    models_limits,
    models_outbox,
    models_postmortems,
    models_reminders,
    models_stakeholders,
    models_statuspage,
    models_timeline,
)
