"""The inbox of requests from Slack (imported by storage.models so Alembic sees it).

Every command, interaction and event is written here, keyed by a natural id (the Events API
`event_id`, otherwise a hash of the request body), before Slack gets its answer; it is then
processed from here. A replica processing a row holds a lease on it; a row whose lease ran
out (a crashed replica) is picked up by any replica. See bot/core/inbox.py.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Index
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _at(*, nullable: bool = True) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable)


class InboxRequest(SQLModel, table=True):
    """One request Slack sent: what it was, and how far its processing got."""

    __tablename__ = "inbox_request"
    __table_args__ = (
        # Replicas look for unprocessed rows whose lease ran out; retention for old ones.
        Index("ix_inbox_request_pending", "processed_at", "lease_until"),
    )

    id: int | None = Field(default=None, primary_key=True)
    # "event:<event_id>" or "body:<sha256 of the body>": a retry of the same request collides.
    key: str = Field(unique=True, max_length=96)
    # events_api, slash_commands or interactive (Socket Mode's envelope types).
    kind: str = Field(max_length=16)
    # How to replay it: "http" (body is the raw request body) or "socket_mode" (JSON payload).
    mode: str = Field(max_length=12)
    content_type: str = Field(default="", max_length=64)
    body: str
    received_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    attempts: int = Field(default=0)
    # Set in the transaction of the request's first write: what it asked for is committed.
    applied_at: datetime | None = Field(default=None, sa_column=_at())
    processed_at: datetime | None = Field(default=None, sa_column=_at())
    error: str | None = Field(default=None, max_length=200)
