"""What people ask for: notify a group now, email the managers, confirm a group of a private
incident, and see who was told what.

Who may do these is decided here, in one place (`authorise`): the incident manager and the
communications lead of a public incident; only the incident manager of a private one; only
whoever declared a drill (the groups are real people: asking is confirming).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from bot.core.errors import DomainError, InvalidInput, NotFound
from bot.core.vocabulary import Role, Severity
from bot.reminders import now_or
from bot.stakeholders import claims
from bot.stakeholders.config import Group, Quadrant, Trigger, Via
from bot.stakeholders.planning import (
    HELD,
    PENDING,
    NoticePolicy,
    components_of,
    held_back,
    insert,
    snapshot,
    targets,
)
from storage.models import Incident, IncidentRole
from storage.models_stakeholders import StakeholderNotice, StakeholderRelease

MESSAGE_MAX = 1000


class NotAllowed(DomainError):
    """The person may not do this for this incident."""


def _incident(session: Session, incident_id: int) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None or incident.id is None:
        raise NotFound(f"Incident {incident_id} does not exist.")
    return incident


def authorise(session: Session, incident: Incident, actor: str) -> None:
    """Raise NotAllowed unless `actor` may send stakeholder notices for `incident`."""
    rows = session.exec(select(IncidentRole).where(IncidentRole.incident_id == incident.id)).all()
    roles = {Role(r.role): r.user_id for r in rows}
    manager = roles.get(Role.INCIDENT_MANAGER)
    if incident.is_drill:
        if actor == incident.declared_by:
            return
        raise NotAllowed(
            f"Incident #{incident.number} is a drill, and stakeholder groups are real people: "
            f"only <@{incident.declared_by}>, who declared it, can confirm telling one."
        )
    if actor == manager:
        return
    if incident.private:
        raise NotAllowed(
            f"Incident #{incident.number} is private: only its incident manager "
            f"({'<@' + manager + '>' if manager else 'nobody yet'}) decides who outside "
            "the channel is told."
        )
    if actor == roles.get(Role.COMMS_LEAD):
        return
    raise NotAllowed(
        "Only the incident manager or the communications lead sends stakeholder notices."
    )


def _release(session: Session, incident: Incident, group: Group, actor: str, now: datetime) -> int:
    """Record that `group` may hear about this private incident; send what waited for it."""
    assert incident.id is not None
    row = session.exec(
        select(StakeholderRelease)
        .where(
            StakeholderRelease.incident_id == incident.id,
            StakeholderRelease.group_name == group.name,
        )
        .with_for_update()
    ).first()
    if row is None:
        row = StakeholderRelease(incident_id=incident.id, group_name=group.name, decided_by=actor)
    row.confirmed, row.decided_by, row.decided_at = True, actor, now
    session.add(row)
    reach = {(via.value, address) for via in Via for address in group.addresses(via)}
    held = session.exec(
        select(StakeholderNotice)
        .where(StakeholderNotice.incident_id == incident.id, StakeholderNotice.state == HELD)
        .with_for_update()
    ).all()
    released = 0
    for notice in held:
        if (notice.channel, notice.recipient) in reach:
            notice.state, notice.due_at = PENDING, now
            session.add(notice)
            released += 1
    return released


def confirm_group(
    session: Session,
    *,
    incident_id: int,
    group_name: str,
    actor: str,
    policy: NoticePolicy,
    now: datetime | None = None,
) -> int:
    """The incident manager lets `group` hear about a private incident; returns notices freed."""
    incident = _incident(session, incident_id)
    if not held_back(incident):
        raise InvalidInput(f"Incident #{incident.number} is not private; every group is told.")
    authorise(session, incident, actor)
    return _release(session, incident, policy.directory.group(group_name), actor, now_or(now))


@dataclass(frozen=True)
class Sent:
    """What a request planned: how many notices to which groups."""

    groups: tuple[str, ...]
    notices: int


def notify(
    session: Session,
    *,
    incident_id: int,
    groups: list[Group],
    message: str,
    actor: str,
    policy: NoticePolicy,
    vias: list[Via] | None = None,
    now: datetime | None = None,
) -> Sent:
    """Notify `groups` about the incident now (with `message`, if any), over their channels."""
    now = now_or(now)
    text = (message or "").strip()
    if len(text) > MESSAGE_MAX:
        raise InvalidInput(f"Keep the message to {MESSAGE_MAX} characters (it has {len(text)}).")
    incident = _incident(session, incident_id)
    authorise(session, incident, actor)
    assert incident.id is not None
    total = 0
    for group in groups:
        if held_back(incident):  # the manager (a drill: its declarer) asking is confirming
            released = _release(session, incident, group, actor, now)
            total += released
            if released and not text:
                continue  # what waited for the confirmation goes out; nothing to add
        planned = targets(
            policy,
            trigger=Trigger.MANUAL,
            severity=Severity(incident.severity),
            components=components_of(session, incident),
            private=False,
            released=set(),
            groups=[group],
            vias=vias or group.manual_vias(),
        )
        payload = snapshot(
            session, incident, policy, trigger=Trigger.MANUAL, at=now, message=text, actor=actor
        )
        total += insert(
            session,
            incident_id=incident.id,
            ref=f"manual:{uuid.uuid4().hex}",
            trigger=Trigger.MANUAL,
            payload=payload,
            planned=planned,
            now=now,
            requested_by=actor,
        )
    return Sent(groups=tuple(g.name for g in groups), notices=total)


def email_managers(
    session: Session,
    *,
    incident_id: int,
    actor: str,
    policy: NoticePolicy,
    now: datetime | None = None,
) -> Sent:
    """The checklist's step 3: e-mail the summary and status link to the managers' groups."""
    groups = policy.directory.in_quadrants(Quadrant.MANAGE_CLOSELY, Quadrant.KEEP_SATISFIED)
    if not groups:
        raise InvalidInput(
            "No group is in the manage_closely or keep_satisfied quadrant of STAKEHOLDERS_FILE."
        )
    return notify(
        session,
        incident_id=incident_id,
        groups=groups,
        message="",
        actor=actor,
        policy=policy,
        vias=[Via.EMAIL],
        now=now,
    )


def retry_failed(
    session: Session, *, incident_id: int, actor: str, now: datetime | None = None
) -> int:
    """Send an incident's failed notices again (a fresh round of attempts); count them."""
    incident = _incident(session, incident_id)
    authorise(session, incident, actor)
    return claims.retry_failed(session, incident_id=incident_id, now=now_or(now))


@dataclass(frozen=True)
class CommsRow:
    """One notice as `/incident comms` shows it."""

    trigger: str
    group: str
    channel: str
    recipient: str
    state: str
    created_at: datetime
    sent_at: datetime | None
    attempts: int
    last_error: str | None
    requested_by: str | None
    summary: str
    expanded: bool = False  # a Slack user group's row: its members have rows of their own


def _state(row: StakeholderNotice) -> str:
    """sent, held, failed (given up), retrying (failed, due again) or pending."""
    if claims.is_given_up(row):
        return "failed"
    if row.state == PENDING and row.attempts and row.last_error:
        return "retrying"
    return row.state


def _summary(payload: dict[str, Any]) -> str:
    message = str(payload.get("message") or "")
    if message:
        return message
    return str(payload.get("title") or "")


def comms(session: Session, *, incident_id: int) -> list[CommsRow]:
    """Every notice of an incident, oldest first."""
    rows = session.exec(
        select(StakeholderNotice)
        .where(StakeholderNotice.incident_id == incident_id)
        .order_by(col(StakeholderNotice.created_at), col(StakeholderNotice.id))
    ).all()
    return [
        CommsRow(
            trigger=r.trigger,
            group=r.group_name,
            channel=r.channel,
            recipient=r.recipient,
            state=_state(r),
            created_at=r.created_at,
            sent_at=r.sent_at,
            attempts=r.attempts,
            last_error=r.last_error,
            requested_by=r.requested_by,
            summary=_summary(json.loads(r.payload or "{}")),
            expanded=(r.provider_ref or "").startswith("expanded to"),
        )
        for r in rows
    ]
