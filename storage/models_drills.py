"""Drill tables (imported by storage.models so Alembic sees them).

`drill_run` is one row per drill incident: the scenario it plays (if any), and what the
score needs that no other table keeps (the status page update the team would have
published). `drill_step` is the scenario's script as a durable schedule: one row per timed
event with its due time and the lease columns of the delivery engine, so a restart goes on
where it stopped and no step plays twice (`played_at`, and a key per step).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


def _at(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class DrillRun(SQLModel, table=True):
    """One drill incident: its scenario and the facts of its score."""

    __tablename__ = "drill_run"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True, ondelete="CASCADE")
    scenario: str = Field(default="", max_length=64)
    started_by: str = Field(max_length=32)
    started_at: datetime = Field(sa_column=_at(nullable=False))
    # The first status page update the team asked for (never published: recorded here).
    statuspage_at: datetime | None = Field(default=None, sa_column=_at())
    statuspage_message: str = Field(default="")
    ended_at: datetime | None = Field(default=None, sa_column=_at())


class DrillStep(SQLModel, table=True):
    """One timed event of a drill's scenario, and who is playing it right now."""

    __tablename__ = "drill_step"
    __table_args__ = (UniqueConstraint("incident_id", "position", name="uq_drill_step"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    position: int
    kind: str = Field(max_length=16)
    speaker: str = Field(default="", max_length=80)
    icon: str = Field(default="", max_length=64)
    subject: str = Field(default="", max_length=150)  # an alert's name, a component
    text: str = Field(default="")
    # When it plays; NULL: played, or no longer to play (the drill ended).
    due_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    played_at: datetime | None = Field(default=None, sa_column=_at())
    message_ts: str | None = Field(default=None, max_length=32)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    pending_key: str | None = Field(default=None, max_length=64)
    pending_since: datetime | None = Field(default=None, sa_column=_at())
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=200)
