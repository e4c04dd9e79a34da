"""Stakeholder notice tables (imported by storage.models so Alembic sees them).

`stakeholder_notice` holds one row per (incident event, recipient, channel), under a unique
key: it is written in the same transaction as the incident change it is about, so a notice is
planned exactly when the change is committed. It is a source of the delivery engine (a
replica sends a due row under a lease) and the outcome stays on the row (sent; or retrying,
or given up, with the error), so `/incident comms` reads who was told what from here.
`stakeholder_release` records which groups the incident manager confirmed for a private
incident (its notices wait, `held`, until then).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _at(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class StakeholderNotice(SQLModel, table=True):
    """One notice to one recipient over one channel about one incident event."""

    __tablename__ = "stakeholder_notice"

    id: int | None = Field(default=None, primary_key=True)
    # sha256 of (incident, event, channel, recipient): planning the same event twice adds
    # nothing, and senders use it as their idempotency key / Message-ID.
    key: str = Field(unique=True, max_length=64)
    # NULL for an alert group's escalation SMS (no incident yet).
    incident_id: int | None = Field(
        default=None, foreign_key="incident.id", index=True, ondelete="CASCADE"
    )
    # What it is about: declared, update:<id>, severity:<at>, resolved:<at>, manual:<id>,
    # statuspage:<update id> (Mastodon), escalation:<level> (escalation messages and SMS).
    event: str = Field(max_length=64)
    trigger: str = Field(max_length=16)
    group_name: str = Field(default="", max_length=80)
    quadrant: str = Field(default="", max_length=16)
    # slack (a DM), invite (to the incident channel), email, sms, webhook, mastodon.
    channel: str = Field(max_length=16)
    # A Slack user or user group id, an e-mail address, an E.164 number or a URL.
    recipient: str = Field(max_length=512)
    # The row a Slack user group was expanded from (its members get one row each).
    parent_id: int | None = Field(default=None)
    # What is said: the incident as it was when the event was committed (JSON).
    payload: str = Field(default="{}", sa_column=Column(Text(), nullable=False))
    # held (waiting for the incident manager), pending, sent, failed, skipped.
    state: str = Field(default="pending", max_length=8)
    # When it may be sent next (NULL unless pending); senders look rows up by this index.
    due_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    attempts: int = Field(default=0)
    # The delivery engine's marks (bot.core.delivery): set before an attempt, kept while an
    # earlier attempt may have got through, so the next one looks before sending again.
    pending_key: str | None = Field(default=None, max_length=64)
    pending_since: datetime | None = Field(default=None, sa_column=_at())
    last_error: str | None = Field(default=None, max_length=200)
    # What the receiving side called it: a Message-ID, an SMS id, a status id, a Slack ts.
    provider_ref: str | None = Field(default=None, max_length=200)
    requested_by: str | None = Field(default=None, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_at())


class StakeholderRelease(SQLModel, table=True):
    """A group the incident manager confirmed (or declined) for a private incident."""

    __tablename__ = "stakeholder_release"
    __table_args__ = (
        UniqueConstraint("incident_id", "group_name", name="uq_stakeholder_release_group"),
    )

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", index=True, ondelete="CASCADE")
    group_name: str = Field(max_length=80)
    confirmed: bool = Field(default=True)
    decided_by: str = Field(max_length=32)
    decided_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
