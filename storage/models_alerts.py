"""Alert tables (imported by storage.models so Alembic sees them).

`alert_group` is what a monitoring tool grouped (an Alertmanager group, a PagerDuty incident,
an Opsgenie alert): one triage message each. `alert` is one alert in it, deduplicated by
source and fingerprint. While open, each carries an `open_key` (unique; NULL once closed, and
NULLs never clash): two deliveries of the same alert at once make one row, and an alert that
fires again after it resolved opens a new row (a new group, a new triage message).
`alert_delivery` remembers the sender's delivery ids (PagerDuty's X-Webhook-Id) so a retried
or replayed delivery changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from storage.types import UTCDateTime, utcnow


def _at(*, nullable: bool = True, index: bool = False) -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(UTCDateTime(), nullable=nullable, index=index)


def _json() -> Column:  # type: ignore[type-arg,unused-ignore]
    return Column(JSON(), nullable=False)


class AlertGroup(SQLModel, table=True):
    """Alerts the sender grouped together, and what people (or rules) did about them."""

    __tablename__ = "alert_group"
    __table_args__ = (Index("ix_alert_group_source_key", "source", "group_key"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)
    group_key: str = Field(max_length=128)
    # "<source>:<group_key>" while the group is open (firing); NULL once it has resolved.
    open_key: str | None = Field(default=None, unique=True, max_length=160)
    title: str = Field(max_length=300)
    severity: str | None = Field(default=None, max_length=32)  # as the sender said it
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    status: str = Field(default="firing", max_length=16, index=True)  # firing or resolved
    firing_count: int = Field(default=0)
    alert_count: int = Field(default=0)
    # Triage: new, acknowledged, dismissed, declared, linked, ignored.
    state: str = Field(default="new", max_length=16)
    # The first rule of ALERT_RULES_FILE that matched when the group opened, and its action.
    rule: str | None = Field(default=None, max_length=64)
    action: str | None = Field(default=None, max_length=16)  # declare, route or ignore
    declare_severity: str | None = Field(default=None, max_length=8)
    policy: str | None = Field(default=None, max_length=64)
    channel: str | None = Field(default=None, max_length=96)  # a rule's channel (id or #name)
    # Bumped by every change the triage message shows; Slack shows `posted_version`.
    version: int = Field(default=1)
    posted_version: int = Field(default=0)
    # The triage message, once posted; `post_started_at` is set before posting, so a post
    # whose answer was lost is looked for in the channel instead of being posted twice.
    message_channel: str | None = Field(default=None, max_length=32)
    message_ts: str | None = Field(default=None, max_length=32)
    post_started_at: datetime | None = Field(default=None, sa_column=_at())
    # The replica refreshing the message right now, until when.
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = Field(default=None, sa_column=_at())
    # When the linked incident's channel was told that the alerts resolved.
    incident_told_at: datetime | None = Field(default=None, sa_column=_at())
    # When the earliest alert started (the incident's detection time), when one last arrived.
    first_alert_at: datetime = Field(sa_column=_at(nullable=False))
    last_alert_at: datetime = Field(sa_column=_at(nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    resolved_at: datetime | None = Field(default=None, sa_column=_at())
    acknowledged_by: str | None = Field(default=None, max_length=64)
    acknowledged_at: datetime | None = Field(default=None, sa_column=_at())
    dismissed_by: str | None = Field(default=None, max_length=32)
    dismissed_at: datetime | None = Field(default=None, sa_column=_at())
    dismiss_reason: str | None = Field(default=None, max_length=500)
    incident_id: int | None = Field(
        default=None, foreign_key="incident.id", index=True, ondelete="SET NULL"
    )
    # Escalation: levels of `policy` delivered so far, and when the next one is due.
    escalation_level: int = Field(default=0)
    escalation_due_at: datetime | None = Field(default=None, sa_column=_at(index=True))


class Alert(SQLModel, table=True):
    """One alert, as its sender last described it."""

    __tablename__ = "alert"
    __table_args__ = (Index("ix_alert_source_fingerprint", "source", "fingerprint"),)

    id: int | None = Field(default=None, primary_key=True)
    group_id: int = Field(foreign_key="alert_group.id", index=True, ondelete="CASCADE")
    source: str = Field(max_length=16)
    fingerprint: str = Field(max_length=128)
    # "<source>:<fingerprint>" while firing; NULL once resolved.
    open_key: str | None = Field(default=None, unique=True, max_length=160)
    status: str = Field(default="firing", max_length=16)
    title: str = Field(max_length=300)
    severity: str | None = Field(default=None, max_length=32)
    description: str = Field(default="")
    labels: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    annotations: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    links: dict[str, Any] = Field(default_factory=dict, sa_column=_json())
    starts_at: datetime | None = Field(default=None, sa_column=_at())
    ends_at: datetime | None = Field(default=None, sa_column=_at())
    received_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    last_received_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))
    # Deliveries of the alert after the first (a repeat updates the row, it adds none).
    repeat_count: int = Field(default=0)
    resolved_at: datetime | None = Field(default=None, sa_column=_at())
    acknowledged_by: str | None = Field(default=None, max_length=64)  # in the sending tool


class AlertDelivery(SQLModel, table=True):
    """A delivery id a sender gave (PagerDuty's X-Webhook-Id): handled once."""

    __tablename__ = "alert_delivery"
    __table_args__ = (UniqueConstraint("source", "delivery_id", name="uq_alert_delivery"),)

    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=16)
    delivery_id: str = Field(max_length=128)
    received_at: datetime = Field(default_factory=utcnow, sa_column=_at(nullable=False))


class IncidentEscalation(SQLModel, table=True):
    """An incident whose manager has not acknowledged it, escalated level by level.

    Started when an incident is declared with a manager who did not declare it (ALERT_RULES_FILE
    `incidents:`); `level` counts the levels already handed out (claimed once across replicas
    and restarts, like an alert group's), `due_at` is when the next one is reached; the
    manager's acknowledgement (a click, or any change they make) stops it.
    """

    __tablename__ = "incident_escalation"

    id: int | None = Field(default=None, primary_key=True)
    incident_id: int = Field(foreign_key="incident.id", unique=True, ondelete="CASCADE")
    policy: str = Field(max_length=64)
    started_at: datetime = Field(sa_column=_at(nullable=False))
    level: int = Field(default=0)
    due_at: datetime | None = Field(default=None, sa_column=_at(index=True))
    acknowledged_at: datetime | None = Field(default=None, sa_column=_at())
    acknowledged_by: str | None = Field(default=None, max_length=32)
