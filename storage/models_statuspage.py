"""Status page tables: components, their status history, public incidents and maintenance,
their public updates, e-mail subscribers and their mails, and the page's version counter.

Nothing here is shown to the public as is: bot.statuspage reads these rows and decides what
is public (never a Slack user id, a channel or an internal update).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _utc(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


class StatusComponent(SQLModel, table=True):
    """A component (or a group of components) of the status page, with its current status.

    Rows follow STATUS_PAGE_FILE: added when the file names a new component, kept (inactive)
    when the file no longer names it, so its history and ids stay stable.
    """

    __tablename__ = "status_component"

    id: str = Field(primary_key=True, max_length=32)  # the public id, stable across restarts
    name: str = Field(max_length=100)
    description: str = Field(default="")
    group_id: str | None = Field(default=None, max_length=32)
    is_group: bool = Field(default=False)
    position: int = Field(default=0)
    status: str = Field(default="operational", max_length=24)
    active: bool = Field(default=True)
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))


class StatusComponentSpan(SQLModel, table=True):
    """One stretch of time a component spent in one status; the open one has no end.

    Times are Unix seconds so the 90-day uptime is summed by the database the same way on
    SQLite and PostgreSQL.
    """

    __tablename__ = "status_component_span"
    __table_args__ = (Index("ix_status_component_span_component_start", "component_id", "start_s"),)

    id: int | None = Field(default=None, primary_key=True)
    component_id: str = Field(foreign_key="status_component.id", max_length=32)
    status: str = Field(max_length=24)
    start_s: int = Field(sa_column=Column(BigInteger(), nullable=False))
    end_s: int | None = Field(default=None, sa_column=Column(BigInteger(), nullable=True))


class StatusIncident(SQLModel, table=True):
    """A public incident (kind "incident") or a scheduled maintenance (kind "maintenance")."""

    __tablename__ = "status_incident"
    __table_args__ = (Index("ix_status_incident_kind_status", "kind", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True, max_length=16)
    kind: str = Field(default="incident", max_length=16)
    # The internal incident it tells the public about (none for maintenance).
    incident_id: int | None = Field(
        default=None, foreign_key="incident.id", unique=True, ondelete="CASCADE"
    )
    name: str = Field(max_length=150)
    status: str = Field(max_length=16)
    impact: str = Field(default="none", max_length=16)
    component_ids: str = Field(default="")  # comma-separated public component ids
    scheduled_for: datetime | None = Field(default=None, sa_column=_utc())
    scheduled_until: datetime | None = Field(default=None, sa_column=_utc())
    created_by: str = Field(default="", max_length=32)  # internal: never rendered
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    updated_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    started_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    monitoring_at: datetime | None = Field(default=None, sa_column=_utc())
    resolved_at: datetime | None = Field(default=None, sa_column=_utc())


class StatusIncidentUpdate(SQLModel, table=True):
    """One public update: the text customers read, and the component changes it made."""

    __tablename__ = "status_incident_update"

    id: int | None = Field(default=None, primary_key=True)
    public_id: str = Field(unique=True, max_length=16)
    status_incident_id: int = Field(
        foreign_key="status_incident.id", index=True, ondelete="CASCADE"
    )
    status: str = Field(max_length=16)
    body: str
    affected: str = Field(default="[]")  # JSON: [{code, name, old_status, new_status}]
    created_by: str = Field(default="", max_length=32)  # internal: never rendered
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))


class StatusSubscriber(SQLModel, table=True):
    """Someone who asked for e-mail about the page; mailed only once confirmed."""

    __tablename__ = "status_subscriber"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    token: str = Field(unique=True, max_length=64)  # in the confirm and unsubscribe links
    component_ids: str = Field(default="")  # comma-separated; empty: every component
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    confirm_sent_at: datetime | None = Field(default=None, sa_column=_utc())
    confirmed_at: datetime | None = Field(default=None, sa_column=_utc())
    unsubscribed_at: datetime | None = Field(default=None, sa_column=_utc())


class StatusMail(SQLModel, table=True):
    """One mail to one subscriber: a confirmation request, or one public update.

    Written in the transaction that makes the update public, so it cannot be lost; the
    unique (subscriber, update) pair means an update is never mailed twice to anyone.
    """

    __tablename__ = "status_mail"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "update_id", name="uq_status_mail_subscriber_update"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscriber_id: int = Field(foreign_key="status_subscriber.id", ondelete="CASCADE")
    update_id: int | None = Field(
        default=None, foreign_key="status_incident_update.id", ondelete="CASCADE"
    )
    kind: str = Field(max_length=16)  # "confirm" or "update"
    # pending (due_at set; given up: due_at NULL with last_error), sent, skipped (nobody
    # left to mail: unsubscribed, or the update is gone).
    state: str = Field(default="pending", max_length=16)
    # A source of the delivery engine (bot.core.delivery, bot.statuspage.mail_claims): the
    # lease columns of bot.core.leases.Leased.
    due_at: datetime | None = Field(default=None, sa_column=_utc(index=True))
    attempts: int = Field(default=0)
    last_error: str | None = Field(default=None, max_length=300)
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_utc())
    pending_key: str | None = Field(default=None, max_length=64)
    pending_since: datetime | None = Field(default=None, sa_column=_utc())
    created_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
    sent_at: datetime | None = Field(default=None, sa_column=_utc())


class StatusPageState(SQLModel, table=True):
    """One row: a counter every published change raises, so each replica's cache notices."""

    __tablename__ = "status_page_state"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=0)
    changed_at: datetime = Field(default_factory=utcnow, sa_column=_utc(nullable=False))
