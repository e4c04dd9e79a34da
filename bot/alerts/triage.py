"""What people (and the clock) do to an alert group: acknowledge, dismiss, link, escalate.

Each operation takes the session and the time, changes the group's row and bumps its
`version` (its triage message shows the change); none calls Slack. Escalation levels are
claimed with one conditional UPDATE on `escalation_level`, so a level is handed out once
even when several replicas tick at the same moment.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col, select

from bot.alerts.escalation import Targets
from bot.alerts.rules import AlertRules
from bot.core.errors import InvalidInput, NotFound
from storage.models import Incident
from storage.models_alerts import AlertGroup

REASON_MAX = 500


def _group(session: Session, group_id: int) -> AlertGroup:
    group = session.exec(
        select(AlertGroup).where(AlertGroup.id == group_id).with_for_update()
    ).first()
    if group is None:
        raise NotFound("That alert group no longer exists.")
    return group


def _changed(session: Session, group: AlertGroup) -> AlertGroup:
    group.version += 1
    session.add(group)
    session.flush()
    return group


def acknowledge(session: Session, *, group_id: int, user: str, now: datetime) -> AlertGroup:
    """`user` takes the group: escalation stops. Acknowledging twice changes nothing."""
    group = _group(session, group_id)
    if group.acknowledged_at is not None:
        return group
    group.acknowledged_by, group.acknowledged_at = user, now
    group.escalation_due_at = None
    if group.state == "new":
        group.state = "acknowledged"
    return _changed(session, group)


def dismiss(
    session: Session, *, group_id: int, user: str, reason: str, now: datetime
) -> AlertGroup:
    """Not worth acting on (a reason is required): escalation stops, the message says why."""
    clean = " ".join(reason.split())
    if not clean:
        raise InvalidInput("Say why the alert is dismissed.", fields={"reason": "Give a reason."})
    if len(clean) > REASON_MAX:
        raise InvalidInput(
            f"Keep the reason to {REASON_MAX} characters.",
            fields={"reason": f"At most {REASON_MAX} characters."},
        )
    group = _group(session, group_id)
    if group.state in ("declared", "linked"):
        raise InvalidInput("This alert is already part of an incident.")
    group.state = "dismissed"
    group.dismissed_by, group.dismissed_at, group.dismiss_reason = user, now, clean
    group.escalation_due_at = None
    if group.acknowledged_at is None:
        group.acknowledged_by, group.acknowledged_at = user, now
    return _changed(session, group)


def link(
    session: Session, *, group_id: int, incident_id: int, user: str, now: datetime, declared: bool
) -> AlertGroup:
    """Attach the group to an incident (declared from it, or an open one picked)."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("That incident no longer exists.")
    group = _group(session, group_id)
    group.incident_id = incident_id
    group.state = "declared" if declared else "linked"
    group.escalation_due_at = None
    if group.acknowledged_at is None:
        group.acknowledged_by, group.acknowledged_at = user, now
    return _changed(session, group)


@dataclass(frozen=True)
class DueLevel:
    """A level of a group's policy that this caller now owns the delivery of."""

    group_id: int
    level: int
    targets: Targets


def claim_due_levels(
    session: Session, *, rules: AlertRules, now: datetime, limit: int = 100
) -> list[DueLevel]:
    """Claim every escalation level due at `now` (each handed out once across replicas)."""
    due = session.exec(
        select(AlertGroup)
        .where(col(AlertGroup.escalation_due_at) <= now)
        .order_by(col(AlertGroup.escalation_due_at))
        .limit(limit)
    ).all()
    claimed: list[DueLevel] = []
    for group in due:
        policy = rules.policies.get(group.policy or "")
        stopped = group.acknowledged_at is not None or group.status != "firing"
        levels = (
            []
            if policy is None or stopped
            else policy.due_levels(group.created_at, group.escalation_level, now)
        )
        reached = group.escalation_level + len(levels)
        next_due = policy.next_due(group.created_at, reached) if policy and not stopped else None
        won = session.execute(
            update(AlertGroup)
            .where(
                col(AlertGroup.id) == group.id,
                col(AlertGroup.escalation_level) == group.escalation_level,
            )
            .values(escalation_level=reached, escalation_due_at=next_due)
            .execution_options(synchronize_session=False)
        )
        if not won.rowcount or policy is None:  # type: ignore[attr-defined]
            continue
        claimed += [
            DueLevel(group.id or 0, level, policy.targets(level, rules.schedules, now))
            for level in levels
        ]
    return claimed
