"""Escalating an incident whose incident manager has not acknowledged it.

ALERT_RULES_FILE's `incidents:` names the policy (bot.alerts.paging). An incident declared
with a manager who did not declare it themselves (an automatic declaration with the on-call
person, or someone naming a colleague) gets an `incident_escalation` row (`start`); its
levels are claimed like an alert group's (`claim_due`: one conditional UPDATE per incident,
so each level is handed out once across replicas and restarts, and none twice).

*Acknowledged* means: the incident manager declared it themselves (an alert rule's automatic
declaration does not count), clicked Acknowledge on an
escalation message, or made any change to the incident (an update, a status, a severity, a
role...: `acknowledge_by_acting`). A new manager who takes the role acknowledges by doing so.
Resolving the incident stops the escalation too. The caller brings the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.alerts.escalation import Targets
from bot.alerts.rules import AlertRules
from bot.core.events import Event, IncidentDeclared
from bot.core.vocabulary import Role
from storage.models import Incident, IncidentRole
from storage.models_alerts import IncidentEscalation

AUTOMATIC = "alert-group:"  # the declare key of an incident an alert rule declared


def manager_of(session: Session, incident_id: int) -> str | None:
    """The incident manager's user id, if there is one."""
    return session.exec(
        select(IncidentRole.user_id).where(
            IncidentRole.incident_id == incident_id,
            IncidentRole.role == Role.INCIDENT_MANAGER.value,
        )
    ).first()


def start(
    session: Session, *, rules: AlertRules, incident: Incident, actor: str, now: datetime
) -> IncidentEscalation | None:
    """Start escalating a just-declared incident, unless its manager declared it. A drill
    never pages anyone: naming and acknowledging a manager is what it practises."""
    paging = rules.incidents
    if paging is None or incident.id is None or incident.is_drill:
        return None
    if not paging.applies(incident.severity):
        return None
    policy = rules.policies.get(paging.policy)
    manager = manager_of(session, incident.id)
    # An automatic declaration names the on-call person as both; they have not acted yet.
    automatic = (incident.declare_key or "").startswith(AUTOMATIC)
    if policy is None or manager is None or (manager == actor and not automatic):
        return None
    found = session.exec(
        select(IncidentEscalation).where(IncidentEscalation.incident_id == incident.id)
    ).first()
    if found is not None:
        return found
    row = IncidentEscalation(
        incident_id=incident.id,
        policy=policy.name,
        started_at=now,
        level=0,
        due_at=policy.next_due(now, 0),
    )
    session.add(row)
    session.flush()
    return row


def acknowledge(session: Session, *, incident_id: int, user: str, now: datetime) -> bool:
    """Stop the incident's escalation: acknowledged by `user`; False when nothing ran."""
    result = session.execute(
        update(IncidentEscalation)
        .where(
            col(IncidentEscalation.incident_id) == incident_id,
            col(IncidentEscalation.acknowledged_at).is_(None),
        )
        .values(acknowledged_at=now, acknowledged_by=user, due_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def is_acknowledged(session: Session, *, incident_id: int) -> bool | None:
    """True/False for an escalated incident; None when it is not escalated."""
    row = session.exec(
        select(IncidentEscalation).where(IncidentEscalation.incident_id == incident_id)
    ).first()
    return None if row is None else row.acknowledged_at is not None


def recorder(rules: Callable[[], AlertRules]) -> Callable[[Session, Event], None]:
    """The in-transaction hook for `Services.recorders`: start on a declaration, and stop
    when the incident manager acts on the incident."""

    def record(session: Session, event: Event) -> None:
        incident_id = getattr(event, "incident_id", None)
        if not isinstance(incident_id, int):
            return
        current = rules()
        if current.incidents is None:
            return
        if isinstance(event, IncidentDeclared):
            incident = session.get(Incident, incident_id)
            if incident is not None:
                session.flush()  # the roles of the declaration
                start(session, rules=current, incident=incident, actor=event.actor, now=event.at)
            return
        manager = manager_of(session, incident_id)
        if manager is not None and event.actor == manager:
            acknowledge(session, incident_id=incident_id, user=manager, now=event.at)

    return record


@dataclass(frozen=True)
class DueIncidentLevel:
    """A level of an incident's escalation that this caller now owns the delivery of."""

    incident_id: int
    level: int
    levels: int  # how many the policy has
    targets: Targets
    sms: bool
    manager: str | None


def claim_due(
    session: Session, *, rules: AlertRules, now: datetime, limit: int = 100
) -> list[DueIncidentLevel]:
    """Claim every incident escalation level due at `now` (each handed out once)."""
    due = session.exec(
        select(IncidentEscalation)
        .where(col(IncidentEscalation.due_at) <= now)
        .order_by(col(IncidentEscalation.due_at))
        .limit(limit)
    ).all()
    claimed: list[DueIncidentLevel] = []
    for row in due:
        policy = rules.policies.get(row.policy)
        incident = session.get(Incident, row.incident_id)
        stopped = (
            row.acknowledged_at is not None or incident is None or incident.status == "resolved"
        )
        levels = (
            [] if policy is None or stopped else policy.due_levels(row.started_at, row.level, now)
        )
        reached = row.level + len(levels)
        next_due = policy.next_due(row.started_at, reached) if policy and not stopped else None
        won = session.execute(
            update(IncidentEscalation)
            .where(col(IncidentEscalation.id) == row.id, col(IncidentEscalation.level) == row.level)
            .values(level=reached, due_at=next_due)
            .execution_options(synchronize_session=False)
        )
        if not won.rowcount or policy is None:  # type: ignore[attr-defined]
            continue
        manager = manager_of(session, row.incident_id)
        claimed += [
            DueIncidentLevel(
                row.incident_id,
                level,
                len(policy.levels),
                policy.targets(level, rules.schedules, now),
                policy.levels[level].sms,
                manager,
            )
            for level in levels
        ]
    return claimed
