"""What the public may see, read in one go: the input of every page, feed and API file.

Only public fields are read: names, descriptions, statuses, status page messages and their
times. Never a Slack user id, a channel, an internal update or a private incident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from bot.statuspage import components as component_rows
from bot.statuspage import state, uptime
from bot.statuspage.config import PageConfig
from bot.statuspage.vocabulary import (
    IMPACT_OF_STATUS,
    IMPACT_RANK,
    INDICATOR_DESCRIPTIONS,
    UNRESOLVED,
    ComponentStatus,
    Impact,
)
from storage.models import Incident
from storage.models_statuspage import StatusIncident, StatusIncidentUpdate
from storage.types import utcnow

HISTORY_DAYS = 365
LOADED_MAX = 500


@dataclass(frozen=True)
class PublicComponent:
    """A component or a group as the public sees it."""

    id: str
    name: str
    description: str
    status: ComponentStatus
    group_id: str | None
    is_group: bool
    position: int
    created_at: datetime
    updated_at: datetime
    children: tuple[str, ...]
    uptime: uptime.ComponentUptime | None


@dataclass(frozen=True)
class PublicUpdate:
    """One public update."""

    id: str
    status: str
    body: str
    created_at: datetime
    affected: tuple[dict[str, str], ...]


@dataclass(frozen=True)
class PublicIncident:
    """A public incident or a scheduled maintenance, updates newest first."""

    id: str
    kind: str
    name: str
    status: str
    impact: str
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    scheduled_for: datetime | None
    scheduled_until: datetime | None
    component_ids: tuple[str, ...]
    updates: tuple[PublicUpdate, ...]

    @property
    def unresolved(self) -> bool:
        """An incident still open (maintenance: never)."""
        return self.kind == "incident" and self.status in UNRESOLVED

    @property
    def ended_at(self) -> datetime | None:
        """When it was resolved or completed."""
        return self.resolved_at


@dataclass(frozen=True)
class Snapshot:
    """The whole public page at one version."""

    config: PageConfig
    version: int
    changed_at: datetime
    now: datetime
    components: tuple[PublicComponent, ...]
    incidents: tuple[PublicIncident, ...]  # newest first
    maintenances: tuple[PublicIncident, ...]  # by start
    indicator: Impact

    @property
    def description(self) -> str:
        """status.json's description."""
        return INDICATOR_DESCRIPTIONS[self.indicator]

    @property
    def leaves(self) -> tuple[PublicComponent, ...]:
        """Components that are not groups."""
        return tuple(c for c in self.components if not c.is_group)

    def component(self, id_: str) -> PublicComponent | None:
        """A component by id."""
        return next((c for c in self.components if c.id == id_), None)

    @property
    def unresolved(self) -> tuple[PublicIncident, ...]:
        """Open incidents, newest first."""
        return tuple(i for i in self.incidents if i.unresolved)

    @property
    def upcoming(self) -> tuple[PublicIncident, ...]:
        """Maintenance that has not started."""
        return tuple(m for m in self.maintenances if m.status == "scheduled")

    @property
    def active_maintenance(self) -> tuple[PublicIncident, ...]:
        """Maintenance running now."""
        return tuple(m for m in self.maintenances if m.status in ("in_progress", "verifying"))


def _visible(query):  # type: ignore[no-untyped-def]
    """Never a private incident nor a drill, whatever else is asked."""
    return query.outerjoin(Incident, col(Incident.id) == col(StatusIncident.incident_id)).where(
        or_(
            col(StatusIncident.incident_id).is_(None),
            and_(col(Incident.private).is_(False), col(Incident.is_drill).is_(False)),
        )
    )


def _incidents(session: Session, rows: list[StatusIncident]) -> list[PublicIncident]:
    ids = [r.id for r in rows]
    updates: dict[int, list[PublicUpdate]] = {}
    if ids:
        found = session.exec(
            select(StatusIncidentUpdate)
            .where(col(StatusIncidentUpdate.status_incident_id).in_(ids))
            .order_by(
                col(StatusIncidentUpdate.created_at).desc(), col(StatusIncidentUpdate.id).desc()
            )
        ).all()
        for u in found:
            updates.setdefault(u.status_incident_id, []).append(
                PublicUpdate(
                    id=u.public_id,
                    status=u.status,
                    body=u.body,
                    created_at=u.created_at,
                    affected=tuple(json.loads(u.affected or "[]")),
                )
            )
    return [
        PublicIncident(
            id=r.public_id,
            kind=r.kind,
            name=r.name,
            status=r.status,
            impact=r.impact,
            created_at=r.created_at,
            updated_at=r.updated_at,
            started_at=r.started_at,
            monitoring_at=r.monitoring_at,
            resolved_at=r.resolved_at,
            scheduled_for=r.scheduled_for,
            scheduled_until=r.scheduled_until,
            component_ids=tuple(i for i in r.component_ids.split(",") if i),
            updates=tuple(updates.get(r.id or 0, [])),
        )
        for r in rows
    ]


def one(session: Session, *, public_id: str) -> PublicIncident | None:
    """One public incident or maintenance by its public id (None if there is none to show)."""
    query = _visible(select(StatusIncident)).where(StatusIncident.public_id == public_id[:16])
    row = session.exec(query).first()
    return _incidents(session, [row])[0] if row is not None else None


def load(session: Session, *, config: PageConfig, now: datetime | None = None) -> Snapshot:
    """Everything public, as of now."""
    now = now or utcnow()
    version, changed_at = state.version(session)
    since = now - timedelta(days=HISTORY_DAYS)
    rows = session.exec(
        _visible(select(StatusIncident))
        .where(StatusIncident.kind == "incident")
        .where(
            or_(col(StatusIncident.created_at) >= since, col(StatusIncident.status).in_(UNRESOLVED))
        )
        .order_by(col(StatusIncident.created_at).desc(), col(StatusIncident.id).desc())
        .limit(LOADED_MAX)
    ).all()
    incidents = _incidents(session, list(rows))
    maintenance_rows = session.exec(
        select(StatusIncident)
        .where(StatusIncident.kind == "maintenance")
        .where(
            or_(
                col(StatusIncident.scheduled_until) >= since,
                col(StatusIncident.status) != "completed",
            )
        )
        .order_by(col(StatusIncident.scheduled_for).desc())
        .limit(LOADED_MAX)
    ).all()
    maintenances = _incidents(session, list(maintenance_rows))
    comps = component_rows.active(session)
    leaves = [c.id for c in comps if not c.is_group]
    spans = [(i.name, list(i.component_ids), i.started_at, i.resolved_at) for i in incidents]
    days = uptime.uptime(
        session,
        component_ids=leaves,
        now=now,
        tz=config.timezone,
        incidents=uptime.incident_days(spans, now=now, tz=config.timezone),
    )
    children: dict[str, list[str]] = {}
    for c in comps:
        if c.group_id:
            children.setdefault(c.group_id, []).append(c.id)
    status_of = {c.id: ComponentStatus(c.status) for c in comps if not c.is_group}
    public = tuple(
        PublicComponent(
            id=c.id,
            name=c.name,
            description=c.description,
            status=(
                max(
                    (status_of[k] for k in children.get(c.id, []) if k in status_of),
                    key=lambda s: s.rank,
                    default=ComponentStatus.OPERATIONAL,
                )
                if c.is_group
                else ComponentStatus(c.status)
            ),
            group_id=c.group_id,
            is_group=c.is_group,
            position=c.position,
            created_at=c.created_at,
            updated_at=c.updated_at,
            children=tuple(children.get(c.id, [])),
            uptime=days.get(c.id),
        )
        for c in comps
    )
    return Snapshot(
        config=config,
        version=version,
        changed_at=changed_at or now,
        now=now,
        components=public,
        incidents=tuple(incidents),
        maintenances=tuple(sorted(maintenances, key=lambda m: m.scheduled_for or m.created_at)),
        indicator=_indicator(public, incidents, maintenances),
    )


def _indicator(
    comps: tuple[PublicComponent, ...],
    incidents: list[PublicIncident],
    maintenances: list[PublicIncident],
) -> Impact:
    candidates = [IMPACT_OF_STATUS[c.status] for c in comps if not c.is_group]
    candidates += [Impact(i.impact) for i in incidents if i.unresolved]
    if any(m.status in ("in_progress", "verifying") for m in maintenances):
        candidates.append(Impact.MAINTENANCE)
    return max(candidates, key=lambda i: IMPACT_RANK[i], default=Impact.NONE)
