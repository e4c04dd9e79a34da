"""Building a `Subject` from the database: the incident, its roles, and the owner of what is
acted on. Who is in the channel is Slack's to say; the caller passes it in."""

from __future__ import annotations

from collections.abc import Container, Mapping

from sqlmodel import Session, select

from bot.core.vocabulary import Role
from bot.permissions.policy import Permission
from bot.permissions.visibility import Subject
from storage.models import Incident, IncidentRole
from storage.models_postmortems import ActionItem, PostMortem


def subject_of(
    incident: Incident,
    *,
    roles: Mapping[Role, str],
    members: Container[str],
    owner: str | None = None,
) -> Subject:
    """The rules' view of an incident already loaded with its roles."""
    assert incident.id is not None
    return Subject(
        incident_id=incident.id,
        number=incident.number,
        private=incident.private,
        declared_by=incident.declared_by,
        channel_id=incident.channel_id,
        members=members,
        roles=dict(roles),
        owner=owner,
    )


def load(
    session: Session,
    *,
    incident: Incident,
    members: Container[str],
    permission: Permission = Permission.SEE,
    item_id: int | None = None,
) -> Subject:
    """The rules' view of `incident` for `permission`: with the owner of the action item
    `item_id` (closing it) or of the post-mortem (completing it; its manager when it has no
    owner, as its reminders do)."""
    assert incident.id is not None
    rows = session.exec(select(IncidentRole).where(IncidentRole.incident_id == incident.id))
    roles = {Role(row.role): row.user_id for row in rows}
    owner: str | None = None
    if permission is Permission.CLOSE_ITEM and item_id is not None:
        item = session.get(ActionItem, item_id)
        owner = item.owner if item is not None and item.incident_id == incident.id else None
    elif permission is Permission.COMPLETE_POSTMORTEM:
        pm = session.exec(select(PostMortem).where(PostMortem.incident_id == incident.id)).first()
        owner = (pm.owner if pm is not None else None) or roles.get(Role.INCIDENT_MANAGER)
    return subject_of(incident, roles=roles, members=members, owner=owner)
