"""Scheduled maintenance: upcoming, then in progress, then completed, on time by itself.

scheduled --(scheduled_for)--> in_progress --(scheduled_until)--> completed

`advance(session, now=...)` makes every transition that is due at `now`; the scheduler calls
it with the real clock, tests with their own. While a maintenance runs its components are
under maintenance; when it completes, those still under maintenance are operational again.
Each transition is a conditional UPDATE, so with several replicas exactly one makes it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.core.errors import InvalidInput
from bot.statuspage import components, publish, state
from bot.statuspage.config import PageConfig
from bot.statuspage.vocabulary import ComponentStatus, MaintenanceStatus
from storage.models_statuspage import StatusComponent, StatusIncident
from storage.types import utcnow

IN_PROGRESS_MESSAGE = (
    "Scheduled maintenance is currently in progress. We will provide updates as necessary."
)
COMPLETED_MESSAGE = "The scheduled maintenance has been completed."
LONGEST = timedelta(days=14)
F_START = "sp_start"
F_END = "sp_end"


def schedule(
    session: Session,
    *,
    config: PageConfig,
    title: str,
    message: str,
    component_ids: list[str],
    starts_at: datetime | None,
    ends_at: datetime | None,
    actor: str,
    now: datetime | None = None,
) -> StatusIncident:
    """Announce a maintenance window; it starts and ends by itself."""
    now = now or utcnow()
    errors: dict[str, str] = {}
    name = " ".join((title or "").split())
    text = (message or "").strip()
    if not name:
        errors[publish.F_TITLE] = "Give the maintenance a title customers will read."
    elif len(name) > publish.TITLE_MAX:
        errors[publish.F_TITLE] = f"At most {publish.TITLE_MAX} characters."
    if not text:
        errors[publish.F_MESSAGE] = "Say what will happen and what customers may notice."
    elif len(text) > publish.MESSAGE_MAX:
        errors[publish.F_MESSAGE] = f"At most {publish.MESSAGE_MAX} characters."
    if starts_at is None:
        errors[F_START] = "Choose when it starts."
    if ends_at is None:
        errors[F_END] = "Choose when it ends."
    if starts_at is not None and ends_at is not None:
        if ends_at <= starts_at:
            errors[F_END] = "The end must come after the start."
        elif ends_at <= now:
            errors[F_END] = "The end is in the past."
        elif ends_at - starts_at > LONGEST:
            errors[F_END] = "A maintenance window lasts at most 14 days."
    ids = components.check_ids(config, component_ids)
    if errors:
        raise InvalidInput("; ".join(errors.values()), fields=errors)
    assert starts_at is not None and ends_at is not None
    row = StatusIncident(
        public_id=state.public_id(),
        kind="maintenance",
        name=name,
        status=MaintenanceStatus.SCHEDULED.value,
        impact="maintenance",
        component_ids=",".join(ids),
        scheduled_for=starts_at,
        scheduled_until=ends_at,
        created_by=actor,
        created_at=now,
        updated_at=now,
        started_at=starts_at,
    )
    session.add(row)
    session.flush()
    publish.add_update(session, row=row, body=text, changes=[], actor=actor, now=now)
    advance(session, now=now)
    return row


def _move(session: Session, row: StatusIncident, old: str, new: MaintenanceStatus) -> bool:
    result = session.execute(
        update(StatusIncident)
        .where(col(StatusIncident.id) == row.id)
        .where(col(StatusIncident.status) == old)
        .values(status=new.value)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    session.refresh(row)
    return True


def advance(session: Session, *, now: datetime | None = None) -> list[StatusIncident]:
    """Start every maintenance whose start has come, complete every one whose end has."""
    now = now or utcnow()
    moved: list[StatusIncident] = []
    due = session.exec(
        select(StatusIncident)
        .where(StatusIncident.kind == "maintenance")
        .where(col(StatusIncident.status).in_(["scheduled", "in_progress", "verifying"]))
        .order_by(col(StatusIncident.scheduled_for))
    ).all()
    for row in due:
        assert row.scheduled_for is not None and row.scheduled_until is not None
        ids = [i for i in row.component_ids.split(",") if i]
        if row.status == "scheduled" and row.scheduled_for <= now < row.scheduled_until:
            if not _move(session, row, "scheduled", MaintenanceStatus.IN_PROGRESS):
                continue
            changes = components.set_many(
                session, statuses=dict.fromkeys(ids, ComponentStatus.UNDER_MAINTENANCE), now=now
            )
            publish.add_update(
                session, row=row, body=IN_PROGRESS_MESSAGE, changes=changes, actor="", now=now
            )
            moved.append(row)
        elif row.scheduled_until <= now:
            if not _move(session, row, row.status, MaintenanceStatus.COMPLETED):
                continue
            row.resolved_at = now
            maintained = ComponentStatus.UNDER_MAINTENANCE.value
            still = [i for i in ids if _status_of(session, i) == maintained]
            changes = components.set_many(
                session, statuses=dict.fromkeys(still, ComponentStatus.OPERATIONAL), now=now
            )
            publish.add_update(
                session, row=row, body=COMPLETED_MESSAGE, changes=changes, actor="", now=now
            )
            moved.append(row)
    return moved


def _status_of(session: Session, component_id: str) -> str | None:
    row = session.get(StatusComponent, component_id)
    return row.status if row is not None and row.active else None


def next_due(session: Session) -> datetime | None:
    """When the next transition falls due (a start or an end), if any maintenance is pending."""
    rows = session.exec(
        select(StatusIncident)
        .where(StatusIncident.kind == "maintenance")
        .where(col(StatusIncident.status).in_(["scheduled", "in_progress", "verifying"]))
    ).all()
    times = [
        (r.scheduled_for if r.status == "scheduled" else r.scheduled_until)
        for r in rows
        if r.scheduled_for is not None and r.scheduled_until is not None
    ]
    return min((t for t in times if t is not None), default=None)
