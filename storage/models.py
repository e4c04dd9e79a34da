"""SQLModel tables. Every table is registered here so Alembic sees it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column
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
