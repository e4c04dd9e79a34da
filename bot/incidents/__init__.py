"""Incidents: declaring, changing status and severity, roles, updates, resolving.

Functions take the session first and everything else by keyword. They change rows and
return the event (bot.core.events) to publish once the session has committed; they never
call Slack.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, text
from sqlmodel import Session, col, select

from bot.core.errors import InvalidInput, NotFound
from bot.core.events import (
    IncidentDeclared,
    IncidentResolved,
    RoleAssigned,
    SeverityChanged,
    StatusChanged,
    UpdatePosted,
)
from bot.core.vocabulary import Role, Severity, Status
from bot.incidents import rules
from bot.incidents.rules import MESSAGE_MAX as MESSAGE_MAX
from bot.incidents.rules import TITLE_MAX as TITLE_MAX
from bot.incidents.rules import validate_declaration as validate_declaration
from storage.models import Incident, IncidentRole, IncidentUpdate
from storage.types import utcnow


@dataclass(frozen=True)
class IncidentView:
    """A snapshot of an incident and its roles, for rendering."""

    incident: Incident
    roles: dict[Role, str]
    # Set by the Slack side when there is a status page (STATUS_PAGE_FILE): the incident's
    # public page once it is published there.
    status_page_enabled: bool = False
    public_url: str | None = None

    @property
    def manager(self) -> str | None:
        """The incident manager's user id, if there is one."""
        return self.roles.get(Role.INCIDENT_MANAGER)

    @property
    def severity(self) -> Severity:
        """The incident's severity."""
        return Severity(self.incident.severity)

    @property
    def status(self) -> Status:
        """The incident's status."""
        return Status(self.incident.status)


NUMBER_SEQUENCE = "incident_number_seq"  # PostgreSQL (migration 0006)


def _next_number(session: Session) -> int:
    """The number of a new incident.

    SQLite: one more than the highest, read under the write lock its transactions take at
    BEGIN IMMEDIATE. PostgreSQL: from a sequence, so that declarations (from any replica)
    never wait for one another's commit: the declare form is answered only once its incident
    is committed. A number is skipped only if a declaration fails after drawing it.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        return int(connection.execute(text(f"SELECT nextval('{NUMBER_SEQUENCE}')")).scalar_one())
    return (session.exec(select(func.max(Incident.number))).one() or 0) + 1


DECLARE_LOCKS = 0x1DEC  # the advisory locks' first key: declarations of one form


def _one_at_a_time(session: Session, declare_key: str) -> None:
    """PostgreSQL: the declarations of one form (a double click, a retry) take turns until
    the first commits, so the others find its incident before they draw a number (a number
    drawn by a declaration that then finds the incident would be skipped). SQLite's write
    transactions take turns already."""
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
            {"space": DECLARE_LOCKS, "key": declare_key},
        )


def declare(
    session: Session,
    *,
    title: str,
    severity: str | None,
    declared_by: str,
    declare_key: str,
    summary: str = "",
    impact: str = "",
    manager: str | None = None,
    private: bool = False,
    drill: bool = False,
    origin_channel_id: str | None = None,
    origin_message_ts: str | None = None,
    origin_permalink: str | None = None,
    now: datetime | None = None,
) -> tuple[Incident, IncidentDeclared | None]:
    """Create an incident, or return the one already made from `declare_key` (and no event)."""
    form = validate_declaration(title=title, severity=severity, summary=summary, impact=impact)
    if manager:
        manager = rules.clean_user(manager, field="manager", name="incident manager")
    _one_at_a_time(session, declare_key)
    existing = session.exec(select(Incident).where(Incident.declare_key == declare_key)).first()
    if existing is not None:
        return existing, None
    now = now or utcnow()
    number = _next_number(session)
    incident = Incident(
        number=number,
        title=form.title,
        severity=form.severity.value,
        summary=form.summary,
        impact=form.impact,
        private=private,
        is_drill=drill,
        declared_by=declared_by,
        declare_key=declare_key,
        origin_channel_id=origin_channel_id,
        origin_message_ts=origin_message_ts,
        origin_permalink=origin_permalink,
        declared_at=now,
        # A person who declares and manages the incident has acknowledged it by declaring.
        acknowledged_at=now if (manager or declared_by) == declared_by else None,
        updated_at=now,
    )
    session.add(incident)
    session.flush()
    assert incident.id is not None
    session.add(
        IncidentRole(
            incident_id=incident.id,
            role=Role.INCIDENT_MANAGER.value,
            user_id=manager or declared_by,
            assigned_by=declared_by,
            assigned_at=now,
        )
    )
    session.flush()
    return incident, IncidentDeclared(incident_id=incident.id, actor=declared_by, at=now)


def get(session: Session, *, incident_id: int) -> Incident:
    """The incident with this id, or NotFound."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    return incident


def by_channel(session: Session, *, channel_id: str) -> Incident | None:
    """The incident whose dedicated channel this is, if any."""
    return session.exec(select(Incident).where(Incident.channel_id == channel_id)).first()


def in_channel(session: Session, *, channel_id: str) -> Incident:
    """The incident of this channel, or a DomainError pointing to `/incident list`."""
    incident = by_channel(session, channel_id=channel_id)
    if incident is None:
        raise NotFound(
            "This command works inside an incident's channel. "
            "Use `/incident list` to find the incident and its channel."
        )
    return incident


def roles_of(session: Session, *, incident_id: int) -> dict[Role, str]:
    """Role -> user id for an incident."""
    rows = session.exec(select(IncidentRole).where(IncidentRole.incident_id == incident_id)).all()
    return {Role(row.role): row.user_id for row in rows}


def view(session: Session, *, incident_id: int) -> IncidentView:
    """The incident with its roles."""
    incident = get(session, incident_id=incident_id)
    return IncidentView(incident=incident, roles=roles_of(session, incident_id=incident_id))


def list_incidents(session: Session, *, include_resolved: bool = False) -> list[IncidentView]:
    """Incidents, newest first; open ones only unless `include_resolved`."""
    query = select(Incident).order_by(col(Incident.number).desc())
    if not include_resolved:
        query = query.where(Incident.status != Status.RESOLVED.value)
    incidents = session.exec(query).all()
    ids = [i.id for i in incidents]
    roles: dict[int, dict[Role, str]] = {}
    if ids:
        rows = session.exec(select(IncidentRole).where(col(IncidentRole.incident_id).in_(ids)))
        for row in rows:
            roles.setdefault(row.incident_id, {})[Role(row.role)] = row.user_id
    return [IncidentView(incident=i, roles=roles.get(i.id or 0, {})) for i in incidents]


def _acknowledge(session: Session, incident: Incident, actor: str, now: datetime) -> None:
    """The manager's first action acknowledges the incident."""
    if (
        incident.acknowledged_at is None
        and incident.id is not None
        and roles_of(session, incident_id=incident.id).get(Role.INCIDENT_MANAGER) == actor
    ):
        incident.acknowledged_at = now


def _apply_status(incident: Incident, status: Status, now: datetime) -> None:
    incident.status = status.value
    if status is Status.IDENTIFIED and incident.identified_at is None:
        incident.identified_at = now
    elif status is Status.MONITORING and incident.monitoring_at is None:
        incident.monitoring_at = now
    elif status is Status.RESOLVED:
        incident.resolved_at = now
    if status is not Status.RESOLVED:
        incident.resolved_at = None


def _require_open(incident: Incident) -> None:
    if incident.status == Status.RESOLVED.value:
        raise InvalidInput(
            f"Incident #{incident.number} is resolved. Reopen it first with "
            "`/incident status investigating`."
        )


def set_status(
    session: Session, *, incident: Incident, status: Status, actor: str, now: datetime | None = None
) -> StatusChanged | IncidentResolved:
    """Move the incident to `status`, recording the lifecycle timestamp."""
    now = now or utcnow()
    old = Status(incident.status)
    if old is status:
        raise InvalidInput(f"Incident #{incident.number} is already {status.label.lower()}.")
    if status is Status.RESOLVED:
        return resolve(session, incident=incident, actor=actor, resolution="", now=now)
    _acknowledge(session, incident, actor, now)
    _apply_status(incident, status, now)
    incident.updated_at = now
    session.add(incident)
    assert incident.id is not None
    return StatusChanged(incident_id=incident.id, actor=actor, at=now, old=old, new=status)


def set_severity(
    session: Session,
    *,
    incident: Incident,
    severity: Severity,
    actor: str,
    now: datetime | None = None,
) -> SeverityChanged:
    """Change the incident's severity."""
    now = now or utcnow()
    old = Severity(incident.severity)
    if old is severity:
        raise InvalidInput(f"Incident #{incident.number} is already {severity.label}.")
    _acknowledge(session, incident, actor, now)
    incident.severity = severity.value
    incident.updated_at = now
    session.add(incident)
    assert incident.id is not None
    return SeverityChanged(incident_id=incident.id, actor=actor, at=now, old=old, new=severity)


def assign_role(
    session: Session,
    *,
    incident: Incident,
    role: Role,
    user_id: str,
    actor: str,
    now: datetime | None = None,
) -> RoleAssigned:
    """Give `role` to `user_id`, replacing whoever held it."""
    now = now or utcnow()
    user_id = rules.clean_user(user_id, field="user", name="person")
    assert incident.id is not None
    row = session.exec(
        select(IncidentRole).where(
            IncidentRole.incident_id == incident.id, IncidentRole.role == role.value
        )
    ).first()
    previous = row.user_id if row else None
    if previous == user_id:
        raise InvalidInput(f"<@{user_id}> is already the {role.label.lower()}.")
    if row is None:
        row = IncidentRole(
            incident_id=incident.id,
            role=role.value,
            user_id=user_id,
            assigned_by=actor,
            assigned_at=now,
        )
    else:
        row.user_id, row.assigned_by, row.assigned_at = user_id, actor, now
    session.add(row)
    _acknowledge(session, incident, actor, now)
    incident.updated_at = now
    session.add(incident)
    return RoleAssigned(
        incident_id=incident.id, actor=actor, at=now, role=role, user=user_id, previous=previous
    )


def post_update(
    session: Session,
    *,
    incident: Incident,
    author: str,
    message: str,
    status: Status | None = None,
    now: datetime | None = None,
) -> UpdatePosted:
    """Record a status update (optionally with a new status): the one update event."""
    now = now or utcnow()
    text = rules.clean_update(message)
    _require_open(incident)
    if status is Status.RESOLVED:
        raise InvalidInput(
            "Use `/incident resolve` to resolve the incident.",
            fields={"status": "Resolve with /incident resolve."},
        )
    old = Status(incident.status)
    _acknowledge(session, incident, author, now)
    if status is not None and status is not old:
        _apply_status(incident, status, now)
    incident.last_update_at = now
    incident.updated_at = now
    update = IncidentUpdate(
        incident_id=incident.id or 0,
        author=author,
        message=text,
        status=status.value if status is not None and status is not old else None,
        posted_at=now,
    )
    session.add(incident)
    session.add(update)
    session.flush()
    assert incident.id is not None and update.id is not None
    return UpdatePosted(
        incident_id=incident.id,
        actor=author,
        at=now,
        update_id=update.id,
        message=text,
        old_status=old,
        new_status=Status(incident.status),
    )


def resolve(
    session: Session,
    *,
    incident: Incident,
    actor: str,
    resolution: str,
    now: datetime | None = None,
) -> IncidentResolved:
    """Resolve the incident with a short summary of how."""
    now = now or utcnow()
    how = rules.clean_resolution(resolution)
    _require_open(incident)
    old = Status(incident.status)
    _acknowledge(session, incident, actor, now)
    _apply_status(incident, Status.RESOLVED, now)
    incident.resolution = how
    incident.updated_at = now
    session.add(incident)
    assert incident.id is not None
    return IncidentResolved(
        incident_id=incident.id, actor=actor, at=now, old=old, resolution=incident.resolution
    )


def record_update_messages(
    session: Session, *, update_id: int, channel_ts: str | None, broadcast_ts: str | None
) -> None:
    """Remember where an update was posted."""
    update = session.get(IncidentUpdate, update_id)
    if update is not None:
        update.channel_ts = channel_ts or update.channel_ts
        update.broadcast_ts = broadcast_ts or update.broadcast_ts
        session.add(update)
