"""The incident library's tables (imported by storage.models so Alembic sees them).

`digest_delivery` records each weekly digest (its unique key makes it go out once);
`postmortem_version` keeps every rendering of a post-mortem (the `postmortem` row holds
only the latest), so earlier versions stay readable in the console. `incident_tag` holds the
tags people give an incident (`/incident tag`), one row per incident and tag. The index on
`incident.declared_at` serves the console's date filters and the insights' periods.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.models import Incident
from storage.types import UTCDateTime, utcnow


class PostmortemVersion(SQLModel, table=True):
    """One rendering of an incident's post-mortem (version 1, 2, ...)."""

    __tablename__ = "postmortem_version"
    __table_args__ = (UniqueConstraint("postmortem_id", "version", name="uq_postmortem_version"),)

    id: int | None = Field(default=None, primary_key=True)
    postmortem_id: int = Field(foreign_key="postmortem.id", ondelete="CASCADE")
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    version: int
    document: str
    rendered_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class IncidentTag(SQLModel, table=True):
    """A tag on an incident (lower case, letters, digits, `-`, `_`, `.`, `/`)."""

    __tablename__ = "incident_tag"
    __table_args__ = (UniqueConstraint("incident_id", "tag", name="uq_incident_tag"),)

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    tag: str = Field(max_length=32, index=True)
    added_by: str = Field(max_length=32)
    added_at: datetime = Field(
        default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False)
    )


class DigestDelivery(SQLModel, table=True):
    """One weekly digest: the first replica to insert its key posts it (once per week)."""

    __tablename__ = "digest_delivery"

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=64)
    channel_id: str = Field(max_length=32)
    claimed_by: str = Field(max_length=64)
    claimed_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
    message_ts: str | None = Field(default=None, max_length=32)
    sent_at: datetime | None = Field(default=None, sa_column=Column(UTCDateTime()))


Index("ix_incident_declared_at", Incident.__table__.c.declared_at)  # type: ignore[attr-defined]
# The insights' figures read only these columns of a period's incidents: answered from the
# index alone (a narrow scan, never the wide incident rows). On SQLite, migration 0021 adds
# the "walk" indexes (ix_incident_walk_*: values in sorted order, for medians), outside the
# models.
_INCIDENT = Incident.__table__  # type: ignore[attr-defined]
Index(
    "ix_incident_insights",
    *(
        _INCIDENT.c[name]
        for name in (
            "declared_at",
            "is_drill",
            "private",
            "channel_id",
            "severity",
            "detect_seconds",
            "acknowledge_seconds",
            "identify_seconds",
            "mitigate_seconds",
            "resolve_seconds",
        )
    ),
)
