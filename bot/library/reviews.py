"""The post-mortem library: every post-mortem people may see, and action items across
incidents (read-only queries for the console, filtered by bot.permissions.visibility)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from bot.permissions.visibility import visible_filter
from storage.models import Incident, IncidentRole
from storage.models_postmortems import ActionItem, PostMortem


@dataclass(frozen=True)
class PostmortemRow:
    """A post-mortem in the library."""

    incident: Incident
    postmortem: PostMortem
    owner: str | None  # the owner, else the incident manager
    overdue: bool

    @property
    def status(self) -> str:
        """Draft, Overdue or Complete."""
        if self.postmortem.completed_at is not None:
            return "Complete"
        return "Overdue" if self.overdue else "Draft"


def postmortems(
    session: Session, *, member_channels: Collection[str], today: date
) -> list[PostmortemRow]:
    """Every post-mortem people may see: overdue first, then drafts by due date, then done."""
    rows = session.exec(
        select(PostMortem, Incident)
        .join(Incident, col(Incident.id) == col(PostMortem.incident_id))
        .where(visible_filter(member_channels))
    ).all()
    managers = dict(
        session.exec(
            select(IncidentRole.incident_id, IncidentRole.user_id).where(
                IncidentRole.role == "incident_manager"
            )
        ).all()
    )
    out = [
        PostmortemRow(
            incident=incident,
            postmortem=pm,
            owner=pm.owner or managers.get(incident.id or 0),
            overdue=pm.completed_at is None and pm.due_on is not None and pm.due_on < today,
        )
        for pm, incident in rows
    ]

    def order(row: PostmortemRow) -> tuple[int, str, int]:
        pm = row.postmortem
        if row.overdue:
            return (0, pm.due_on.isoformat() if pm.due_on else "", -row.incident.number)
        if pm.completed_at is None:
            return (1, pm.due_on.isoformat() if pm.due_on else "9999", -row.incident.number)
        done = pm.completed_at.isoformat()
        return (2, "".join(chr(0x10FFFF - ord(c)) for c in done), -row.incident.number)

    return sorted(out, key=order)


def action_items(
    session: Session, *, member_channels: Collection[str], state: str = "open", limit: int = 500
) -> list[tuple[ActionItem, Incident]]:
    """Action items across incidents people may see: by due date (none last), then newest."""
    query = (
        select(ActionItem, Incident)
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(visible_filter(member_channels))
    )
    if state in ("open", "done"):
        query = query.where(ActionItem.state == state)
    query = query.order_by(
        col(ActionItem.due_on).is_(None),
        col(ActionItem.due_on),
        col(ActionItem.created_at).desc(),
    ).limit(limit)
    return [(item, incident) for item, incident in session.exec(query).all()]
