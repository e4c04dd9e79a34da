"""Putting an incident on the status page, updating it there, and resolving it.

Each function runs inside the transaction of the incident change that causes it (see the
handlers), so the page, the e-mails to subscribers and the incident change are committed
together or not at all. Only the status page message, the public title and component states
become public. Private incidents (and drills) are refused here, whatever the caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from bot.core.errors import InvalidInput
from bot.statuspage import components, state, subscriptions
from bot.statuspage.config import PageConfig
from bot.statuspage.vocabulary import (
    IMPACT_OF_STATUS,
    IMPACT_RANK,
    ComponentStatus,
    Impact,
    PublicStatus,
)
from storage.models import Incident
from storage.models_statuspage import StatusIncident, StatusIncidentUpdate
from storage.types import utcnow

MESSAGE_MAX = 3000
TITLE_MAX = 150
RESOLVED_MESSAGE = "This incident has been resolved."
# Block ids of the status page inputs in the Slack forms (errors are shown beside them).
F_COMPONENTS = "sp_components"
F_STATUS = "sp_component_status"
F_MESSAGE = "sp_message"
F_TITLE = "sp_title"


@dataclass(frozen=True)
class Publication:
    """What a person asked to show the public."""

    message: str
    component_ids: tuple[str, ...] | None = None  # None: leave the affected components as they are
    component_status: ComponentStatus | None = None
    title: str | None = None


def never_public(incident: Incident) -> str | None:
    """Why this incident may never be on the page (private, drill), or None."""
    if incident.private:
        return "Private incidents are never published on the status page."
    if incident.is_drill:
        return "Drill incidents are never published on the status page."
    return None


def validate(
    config: PageConfig,
    *,
    message: str | None,
    component_ids: list[str] | None,
    component_status: str | None,
    title: str | None = None,
    private: bool = False,
    require_message: bool = False,
) -> Publication | None:
    """Check the status page fields of a form; None when they ask for nothing."""
    text = (message or "").strip()
    ids = components.check_ids(config, list(component_ids or []))
    errors: dict[str, str] = {}
    status: ComponentStatus | None = None
    if component_status:
        try:
            status = ComponentStatus(component_status)
        except ValueError:
            errors[F_STATUS] = "Choose one of the listed statuses."
    if len(text) > MESSAGE_MAX:
        errors[F_MESSAGE] = f"At most {MESSAGE_MAX} characters (it has {len(text)})."
    if ids and status is None and F_STATUS not in errors:
        errors[F_STATUS] = "Choose the status of the affected components."
    if status is not None and not ids and component_ids is not None:
        errors[F_COMPONENTS] = "Choose the components this status applies to."
    if (ids or status is not None) and not text:
        errors[F_MESSAGE] = "Write what customers should read; components change with a message."
    if require_message and not text:
        errors[F_MESSAGE] = "Write the message customers will read."
    clean_title = " ".join((title or "").split()) or None
    if clean_title is not None and len(clean_title) > TITLE_MAX:
        errors[F_TITLE] = f"At most {TITLE_MAX} characters."
    if text and private:
        errors[F_MESSAGE] = "Private incidents are never published on the status page."
    if errors:
        raise InvalidInput("; ".join(errors.values()), fields=errors)
    if not text:
        return None
    return Publication(
        message=text,
        component_ids=tuple(ids) if component_ids is not None else None,
        component_status=status,
        title=clean_title,
    )


def public_of(session: Session, *, incident_id: int) -> StatusIncident | None:
    """The public incident telling about this incident, if it is on the page."""
    return session.exec(
        select(StatusIncident).where(StatusIncident.incident_id == incident_id)
    ).first()


def incident_url(config: PageConfig, row: StatusIncident) -> str:
    """The public page of one incident."""
    return f"{config.url}/status/incidents/{row.public_id}"


def _ids(row: StatusIncident) -> list[str]:
    return [i for i in row.component_ids.split(",") if i]


def _raise_impact(row: StatusIncident, statuses: list[ComponentStatus]) -> None:
    for status in statuses:
        impact = IMPACT_OF_STATUS[status]
        if impact is Impact.MAINTENANCE:
            continue
        if IMPACT_RANK[impact] > IMPACT_RANK[Impact(row.impact)]:
            row.impact = impact.value


def _apply_status(row: StatusIncident, status: PublicStatus, now: datetime) -> None:
    row.status = status.value
    if status is PublicStatus.MONITORING and row.monitoring_at is None:
        row.monitoring_at = now
    if status is PublicStatus.RESOLVED:
        row.resolved_at = row.resolved_at or now
    else:
        row.resolved_at = None


def add_update(
    session: Session,
    *,
    row: StatusIncident,
    body: str,
    changes: list[components.Change],
    actor: str,
    now: datetime,
) -> StatusIncidentUpdate:
    """Record one public update, its subscribers' mails, and the page's new version."""
    assert row.id is not None
    update = StatusIncidentUpdate(
        public_id=state.public_id(),
        status_incident_id=row.id,
        status=row.status,
        body=body,
        affected=json.dumps([c.as_json() for c in changes]),
        created_by=actor,
        created_at=now,
    )
    row.updated_at = now
    session.add(row)
    session.add(update)
    session.flush()
    subscriptions.enqueue_update(session, update=update, row=row)
    state.changed(session, now=now)
    return update


def publish(
    session: Session,
    *,
    config: PageConfig,
    incident: Incident,
    publication: Publication,
    actor: str,
    now: datetime | None = None,
) -> StatusIncident:
    """Put the incident on the page (first message) or add an update to it there."""
    now = now or utcnow()
    refusal = never_public(incident)
    if refusal is not None:
        raise InvalidInput(refusal, fields={F_MESSAGE: refusal})
    assert incident.id is not None
    row = public_of(session, incident_id=incident.id)
    if row is None:
        row = StatusIncident(
            public_id=state.public_id(),
            kind="incident",
            incident_id=incident.id,
            name=publication.title or incident.title,
            status=PublicStatus(incident.status).value,
            impact=Impact.MINOR.value,  # an open incident is at least a minor one
            created_by=actor,
            created_at=now,
            updated_at=now,
            started_at=incident.declared_at,
        )
        session.add(row)
        session.flush()
    elif publication.title:
        row.name = publication.title
    _apply_status(row, PublicStatus(incident.status), now)
    changes = _component_changes(session, row, publication, now)
    add_update(session, row=row, body=publication.message, changes=changes, actor=actor, now=now)
    return row


def _component_changes(
    session: Session, row: StatusIncident, publication: Publication, now: datetime
) -> list[components.Change]:
    current = _ids(row)
    wanted: dict[str, ComponentStatus] = {}
    if publication.component_ids is not None:
        for id_ in current:
            if id_ not in publication.component_ids:
                wanted[id_] = ComponentStatus.OPERATIONAL
        status = publication.component_status or ComponentStatus.OPERATIONAL
        for id_ in publication.component_ids:
            wanted[id_] = status
        row.component_ids = ",".join(dict.fromkeys([*current, *publication.component_ids]))
    elif publication.component_status is not None:
        for id_ in current:
            wanted[id_] = publication.component_status
    _raise_impact(row, list(wanted.values()))
    return components.set_many(session, statuses=wanted, now=now)


def resolve(
    session: Session,
    *,
    incident: Incident,
    message: str = RESOLVED_MESSAGE,
    component_status: ComponentStatus = ComponentStatus.OPERATIONAL,
    actor: str,
    now: datetime | None = None,
) -> StatusIncident | None:
    """Resolve the incident's public side (if it is on the page): final message, components."""
    now = now or utcnow()
    assert incident.id is not None
    row = public_of(session, incident_id=incident.id)
    if row is None or row.status == PublicStatus.RESOLVED.value:
        return None
    text = (message or "").strip() or RESOLVED_MESSAGE
    if len(text) > MESSAGE_MAX:
        raise InvalidInput(
            f"Keep the message to {MESSAGE_MAX} characters.",
            fields={F_MESSAGE: f"At most {MESSAGE_MAX} characters."},
        )
    _apply_status(row, PublicStatus.RESOLVED, now)
    changes = components.set_many(
        session, statuses=dict.fromkeys(_ids(row), component_status), now=now
    )
    add_update(session, row=row, body=text, changes=changes, actor=actor, now=now)
    return row


def follow_incident(
    session: Session, *, incident: Incident, actor: str, now: datetime | None = None
) -> StatusIncident | None:
    """After a status change made without a public message: resolve the public side when the
    incident was resolved (default message, components operational); nothing otherwise."""
    if incident.status != PublicStatus.RESOLVED.value:
        return None
    return resolve(session, incident=incident, actor=actor, now=now)
