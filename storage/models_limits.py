"""Per-person rate limits (imported by storage.models so Alembic sees them).

One row per person and bucket (declarations, costly commands): a token bucket that every
replica updates under a row lock, so a limit holds across replicas.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime


class RateLimit(SQLModel, table=True):
    """How many requests of one kind a person may still make right now."""

    __tablename__ = "rate_limit"

    user_id: str = Field(primary_key=True, max_length=32)
    bucket: str = Field(primary_key=True, max_length=16)
    tokens: float
    updated_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False))
