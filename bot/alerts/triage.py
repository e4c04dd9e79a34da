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
from storage.models_alerts import Alert, AlertGroup

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


def note_detection(incident: Incident, first_alert_at: datetime) -> None:
    """The incident was detected when its earliest linked alert started, or when it was
    declared if people saw it before any alert did (time to detect is never negative)."""
    detected = min(first_alert_at, incident.declared_at)
    if incident.detected_at is None or detected < incident.detected_at:
        incident.detected_at = detected


def link(
    session: Session, *, group_id: int, incident_id: int, user: str, now: datetime, declared: bool
) -> AlertGroup:
    """Attach the group to an incident (declared from it, or an open one picked); the
    group's first alert becomes the incident's detection time if it is the earliest."""
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise NotFound("That incident no longer exists.")
    group = _group(session, group_id)
    note_detection(incident, group.first_alert_at)
    session.add(incident)
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


def _is_drill(session: Session, incident_id: int) -> bool:
    incident = session.get(Incident, incident_id)
    return incident is not None and incident.is_drill


def claim_due_levels(
    session: Session, *, rules: AlertRules, now: datetime, limit: int = 100
) -> list[DueLevel]:
    """Claim every escalation level due at `now` (each handed out once across replicas).

    A group linked to a drill incident pages nobody: its escalation stops here.
    """
    due = session.exec(
        select(AlertGroup)
        .where(col(AlertGroup.escalation_due_at) <= now)
        .order_by(col(AlertGroup.escalation_due_at))
        .limit(limit)
    ).all()
    claimed: list[DueLevel] = []
    for group in due:
        policy = rules.policies.get(group.policy or "")
        drill = group.incident_id is not None and _is_drill(session, group.incident_id)
        stopped = group.acknowledged_at is not None or group.status != "firing" or drill
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


# --- Keeping the triage message current (the Slack side calls these) --------------------------

SHOWN_ALERTS = 5


@dataclass(frozen=True)
class TriageView:
    """What a triage message shows: the group, its first alerts, its incident's number."""

    group: AlertGroup
    alerts: tuple[Alert, ...]
    incident_number: int | None
    incident_channel: str | None


def view(session: Session, group_id: int) -> TriageView:
    """A snapshot of a group for rendering (firing alerts first, then the latest)."""
    group = session.get(AlertGroup, group_id)
    if group is None:
        raise NotFound("That alert group no longer exists.")
    alerts = session.exec(
        select(Alert)
        .where(Alert.group_id == group_id)
        .order_by(col(Alert.status), col(Alert.id))
        .limit(SHOWN_ALERTS)
    ).all()
    incident = session.get(Incident, group.incident_id) if group.incident_id else None
    return TriageView(
        group,
        tuple(alerts),
        incident.number if incident else None,
        incident.channel_id if incident else None,
    )


def lease(session: Session, *, group_id: int, owner: str, now: datetime, until: datetime) -> bool:
    """Take the group's message for refreshing (one replica at a time); False if taken."""
    result = session.execute(
        update(AlertGroup)
        .where(col(AlertGroup.id) == group_id)
        .where(
            (col(AlertGroup.lease_until).is_(None))
            | (col(AlertGroup.lease_until) < now)
            | (col(AlertGroup.lease_owner) == owner)
        )
        .values(lease_owner=owner, lease_until=until)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, *, group_id: int, owner: str) -> None:
    """Give the lease up."""
    session.execute(
        update(AlertGroup)
        .where(col(AlertGroup.id) == group_id, col(AlertGroup.lease_owner) == owner)
        .values(lease_owner=None, lease_until=None)
        .execution_options(synchronize_session=False)
    )


def posting(session: Session, *, group_id: int, now: datetime) -> None:
    """Note that a first post is about to be sent (looked for before any second one)."""
    session.execute(
        update(AlertGroup)
        .where(col(AlertGroup.id) == group_id, col(AlertGroup.post_started_at).is_(None))
        .values(post_started_at=now)
        .execution_options(synchronize_session=False)
    )


def shown(
    session: Session, *, group_id: int, version: int, channel: str | None, ts: str | None
) -> None:
    """Slack now shows `version` of the group (in the message `channel`/`ts`, if any)."""
    values: dict[str, object] = {"posted_version": version}
    if channel and ts:
        values.update(message_channel=channel, message_ts=ts)
    session.execute(
        update(AlertGroup)
        .where(col(AlertGroup.id) == group_id, col(AlertGroup.posted_version) < version)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def behind(session: Session, *, limit: int = 100) -> list[int]:
    """Groups whose message does not show their latest version (after a failure or a restart)."""
    ids = session.exec(
        select(AlertGroup.id)
        .where(col(AlertGroup.posted_version) < col(AlertGroup.version))
        .order_by(col(AlertGroup.id))
        .limit(limit)
    ).all()
    return [group_id for group_id in ids if group_id is not None]


def for_message(session: Session, *, channel: str, ts: str) -> int | None:
    """The group whose triage message is `channel`/`ts`."""
    return session.exec(
        select(AlertGroup.id).where(
            AlertGroup.message_channel == channel, AlertGroup.message_ts == ts
        )
    ).first()


def to_tell_resolved(session: Session, *, group_id: int, now: datetime) -> str | None:
    """The linked incident's channel, once, when the group has resolved; else None."""
    group = _group(session, group_id)
    if group.status != "resolved" or group.incident_id is None or group.incident_told_at:
        return None
    incident = session.get(Incident, group.incident_id)
    if incident is None or incident.channel_id is None:
        return None
    group.incident_told_at = now
    session.add(group)
    return incident.channel_id
