"""Status-update reminders and no-manager nudges: planning and snoozing.

The schedule lives in the `reminder` table (one row per incident and kind, with `due_at`),
so it survives restarts and is shared by replicas. Every committed change to an incident
re-plans its rows from the incident's facts (`replan`, via the event-bus `subscriber`); a
periodic `reconcile` catches a change whose event was lost (a crash right after a commit).
Sending is the delivery engine's (`bot.core.delivery`): the table is a source of it
(`bot.reminders.claims`), posted to Slack by `bot.slack.reminder_sender`.
Functions take the session first and `now` for a controllable clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_
from sqlmodel import Session, col, select

from bot.core.delivery import insert_ignoring
from bot.core.errors import InvalidInput, NotFound
from bot.core.events import IncidentEvent
from bot.core.vocabulary import Role, Severity, Status
from bot.reminders.policy import SNOOZE_CHOICES, Kind, Plan, ReminderPolicy
from storage import Database
from storage.models import Incident, IncidentRole
from storage.models_reminders import Reminder, ReminderDelivery
from storage.types import utcnow

log = logging.getLogger(__name__)

__all__ = ["Kind", "Reminder", "ReminderDelivery", "ReminderPolicy"]

_RESOLVED = Status.RESOLVED.value


def now_or(now: datetime | None) -> datetime:
    """`now`, or the current time when it is None."""
    return now or utcnow()


# -- planning ----------------------------------------------------------------------------


def _ensure_rows(session: Session, incident_ids: list[int]) -> None:
    """Create the missing rows of these incidents (concurrent creators do not collide)."""
    if not incident_ids:
        return
    values = [{"incident_id": i, "kind": k.value} for i in incident_ids for k in Kind]
    session.execute(insert_ignoring(session, Reminder).values(values).on_conflict_do_nothing())


def manager_ids(session: Session, incident_ids: list[int]) -> set[int]:
    """Which of these incidents have an incident manager."""
    rows = session.exec(
        select(IncidentRole.incident_id).where(
            col(IncidentRole.incident_id).in_(incident_ids),
            IncidentRole.role == Role.INCIDENT_MANAGER.value,
        )
    )
    return set(rows.all())


def _reset(row: Reminder) -> None:
    row.last_sent_at, row.sent_count, row.snoozed_until = None, 0, None
    row.pending_key, row.pending_since, row.attempts, row.last_error = None, None, 0, None


def absorb(
    row: Reminder, incident: Incident, has_manager: bool, policy: ReminderPolicy, now: datetime
) -> None:
    """Bring a row in line with its incident's facts, then compute its next due time."""
    fresh = row.planned_at is None
    is_open = incident.status != _RESOLVED
    if row.kind == Kind.UPDATE:
        clock = incident.last_update_at or incident.declared_at
        if fresh:
            row.anchor_at = clock
        elif is_open and not row.incident_open:  # reopened: the clock starts again now
            row.anchor_at = max(clock, now)
            _reset(row)
        elif row.anchor_at is None or clock > row.anchor_at:  # an update was posted
            row.anchor_at = clock
            _reset(row)
    elif not is_open or has_manager:
        if row.anchor_at is not None:
            row.anchor_at = None
            _reset(row)
    elif row.anchor_at is None:  # nobody manages it: since declaring, or since we noticed
        row.anchor_at = incident.declared_at if fresh else now
        _reset(row)
    row.severity, row.incident_open, row.planned_at = incident.severity, is_open, now
    row.due_at = policy.due_at(
        Plan(
            kind=row.kind,
            severity=Severity(incident.severity),
            is_open=is_open,
            anchor_at=row.anchor_at,
            last_sent_at=row.last_sent_at,
            sent_count=row.sent_count,
            snoozed_until=row.snoozed_until,
        )
    )
    if row.due_at is None or row.due_at > now:  # a new occurrence: earlier attempts are moot
        row.pending_key = row.pending_since = row.last_error = None
        row.attempts = 0


def _locked_rows(session: Session, incident_id: int) -> dict[Kind, Reminder]:
    rows = session.exec(
        select(Reminder).where(Reminder.incident_id == incident_id).with_for_update()
    ).all()
    return {Kind(row.kind): row for row in rows}


def replan(
    session: Session, *, incident_id: int, policy: ReminderPolicy, now: datetime | None = None
) -> dict[Kind, datetime | None]:
    """Plan an incident's reminders from its current facts; returns each kind's due time."""
    now = now_or(now)
    incident = session.get(Incident, incident_id)
    if incident is None:
        return {}
    _ensure_rows(session, [incident_id])
    has_manager = bool(manager_ids(session, [incident_id]))
    rows = _locked_rows(session, incident_id)
    for row in rows.values():
        absorb(row, incident, has_manager, policy, now)
        session.add(row)
    session.flush()
    return {kind: row.due_at for kind, row in rows.items()}


def reconcile(
    session: Session, *, policy: ReminderPolicy, now: datetime | None = None, limit: int = 500
) -> int:
    """Re-plan incidents whose rows are missing or out of date (a lost event); count them."""
    now = now_or(now)
    r_incident, r_kind, r_anchor = (
        col(Reminder.incident_id),
        col(Reminder.kind),
        col(Reminder.anchor_at),
    )
    open_incident = col(Incident.status) != _RESOLVED
    kinds = [~exists().where(r_incident == col(Incident.id), r_kind == k.value) for k in Kind]
    missing = select(Incident.id).where(open_incident, or_(*kinds)).limit(limit)
    manager = exists().where(
        col(IncidentRole.incident_id) == col(Incident.id),
        col(IncidentRole.role) == Role.INCIDENT_MANAGER.value,
    )
    clock = func.coalesce(Incident.last_update_at, Incident.declared_at)
    stale = (
        select(Reminder.incident_id)
        .join(Incident, col(Incident.id) == r_incident)
        .where(or_(col(Reminder.incident_open), open_incident))
        .where(
            or_(
                col(Reminder.severity) != col(Incident.severity),
                col(Reminder.incident_open) != open_incident,
                and_(r_kind == Kind.UPDATE.value, or_(r_anchor.is_(None), r_anchor < clock)),
                and_(
                    r_kind == Kind.NO_MANAGER.value,
                    open_incident,
                    or_(
                        and_(r_anchor.is_(None), ~manager),
                        and_(r_anchor.is_not(None), manager),
                    ),
                ),
            )
        )
        .limit(limit)
    )
    ids = set(session.exec(missing).all()) | set(session.exec(stale).all())
    for incident_id in sorted(i for i in ids if i is not None):
        replan(session, incident_id=incident_id, policy=policy, now=now)
    return len(ids)


def snooze(
    session: Session,
    *,
    incident_id: int,
    minutes: int,
    policy: ReminderPolicy,
    now: datetime | None = None,
) -> datetime:
    """Hold back the next status-update reminder; returns when it now goes out."""
    now = now_or(now)
    if minutes not in SNOOZE_CHOICES:
        raise InvalidInput(f"Snooze for {', '.join(map(str, SNOOZE_CHOICES))} minutes.")
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    if incident.status == _RESOLVED:
        raise InvalidInput(f"Incident #{incident.number} is resolved; it gets no more reminders.")
    replan(session, incident_id=incident_id, policy=policy, now=now)
    row = _locked_rows(session, incident_id)[Kind.UPDATE]
    if row.due_at is None:
        label = Severity(incident.severity).label
        raise InvalidInput(f"{label} incidents get no status-update reminders.")
    row.snoozed_until = now + timedelta(minutes=minutes)
    absorb(row, incident, False, policy, now)  # (managers matter to nudges only)
    session.add(row)
    assert row.due_at is not None
    return row.due_at


def subscriber(db: Database, policy: ReminderPolicy) -> Callable[[IncidentEvent], None]:
    """The event-bus subscriber: every committed change to an incident re-plans it."""

    def on_event(event: IncidentEvent) -> None:
        with db.session() as session:
            replan(session, incident_id=event.incident_id, policy=policy, now=event.at)

    return on_event
