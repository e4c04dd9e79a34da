"""Planning notices: who is told about an incident event, over which channel.

`plan_event` runs inside the transaction of the incident change (see
`bot.slack.services.Services.commit`): it adds one `stakeholder_notice` row per (event,
recipient, channel) under a unique key, so a notice exists exactly when its change was
committed, and planning the same event again adds nothing. Sending is someone else's job.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, select

from bot.core.events import Event
from bot.core.vocabulary import Role, Severity
from bot.reminders import insert_ignoring, now_or
from bot.stakeholders.config import Directory, Group, Trigger, Via
from bot.stakeholders.occurrences import Occurrence, occurrence_of
from bot.stakeholders.webhooks import Webhook
from storage.models import Incident, IncidentRole
from storage.models_stakeholders import StakeholderNotice, StakeholderRelease
from storage.models_statuspage import StatusComponent, StatusIncident

if TYPE_CHECKING:
    from bot.settings import Settings

WEBHOOK = "webhook"
MASTODON = "mastodon"
HELD, PENDING, SENT, FAILED, SKIPPED = "held", "pending", "sent", "failed", "skipped"


@dataclass(frozen=True)
class NoticePolicy:
    """Everything planning needs from the configuration."""

    directory: Directory = field(default_factory=Directory)
    webhooks: tuple[Webhook, ...] = ()
    status_page_url: str = ""  # the page's home: the link every notice carries
    status_page_base: str = ""  # STATUS_PAGE_FILE's url: incident pages and subscribing
    update_intervals: dict[Severity, timedelta | None] = field(default_factory=dict)
    mastodon: bool = False

    @classmethod
    def from_settings(cls, settings: Settings) -> NoticePolicy:
        """The policy the settings describe (files were checked at start-up)."""
        from bot.reminders.policy import parse_intervals

        page = settings.status_page
        base = page.url if page is not None else ""
        return cls(
            directory=settings.stakeholders,
            webhooks=settings.webhooks,
            status_page_url=settings.status_page_url or (f"{base}/status" if base else ""),
            status_page_base=base,
            update_intervals=parse_intervals(settings.reminder_intervals),
            mastodon=bool(settings.mastodon_api_url and settings.mastodon_access_token),
        )


@dataclass(frozen=True)
class Target:
    """One planned notice: a recipient over a channel, on behalf of a group."""

    channel: str
    recipient: str
    group: str = ""
    quadrant: str = ""
    held: bool = False


def notice_key(incident_id: int, ref: str, channel: str, recipient: str) -> str:
    """The unique key of one notice (64 hex characters)."""
    address = recipient.lower() if "@" in recipient else recipient
    raw = f"{incident_id}|{ref}|{channel}|{address}"
    return hashlib.sha256(raw.encode()).hexdigest()


def held_back(incident: Incident) -> bool:
    """Notices wait for the incident manager to confirm each group (a private incident, a
    drill), and webhooks and Mastodon never hear of it."""
    return incident.private or incident.is_drill


def public_incident(session: Session, incident: Incident) -> StatusIncident | None:
    """The status page's incident telling the public about this one, if there is one."""
    if held_back(incident) or incident.id is None:
        return None
    return session.exec(
        select(StatusIncident).where(StatusIncident.incident_id == incident.id)
    ).first()


def components_of(session: Session, incident: Incident) -> frozenset[str]:
    """The names of the status page components the incident affects (none: not known)."""
    public = public_incident(session, incident)
    ids = [i for i in (public.component_ids if public else "").split(",") if i]
    if not ids:
        return frozenset()
    names = session.exec(select(StatusComponent.name).where(col(StatusComponent.id).in_(ids)))
    return frozenset(names.all())


def released_groups(session: Session, incident_id: int) -> set[str]:
    """The groups the incident manager confirmed for this (private) incident."""
    rows = session.exec(
        select(StakeholderRelease.group_name).where(
            StakeholderRelease.incident_id == incident_id,
            col(StakeholderRelease.confirmed),
        )
    )
    return set(rows.all())


def targets(
    policy: NoticePolicy,
    *,
    trigger: Trigger,
    severity: Severity,
    components: frozenset[str],
    private: bool,
    released: set[str],
    groups: Iterable[Group] | None = None,
    vias: list[Via] | None = None,
) -> list[Target]:
    """Who gets what: one target per (channel, recipient), held unless a group releases it.

    A private incident's notices wait (held) until the incident manager confirms a group
    that holds the recipient; webhooks and Mastodon never hear about private incidents.
    """
    found: dict[tuple[str, str], Target] = {}
    for group in policy.directory.groups if groups is None else groups:
        if groups is None and not group.concerns(severity, components):
            continue
        held = private and group.name not in released
        for via in vias if vias is not None else group.vias(trigger, severity):
            for address in group.addresses(via):
                slot = (via.value, address)
                known = found.get(slot)
                if known is None or (known.held and not held):
                    found[slot] = Target(via.value, address, group.name, group.quadrant, held)
    if not private and groups is None and trigger is not Trigger.MANUAL:
        for hook in policy.webhooks:
            if trigger in hook.events:
                found[(WEBHOOK, hook.url)] = Target(WEBHOOK, hook.url)
    return list(found.values())


def next_update_at(
    incident: Incident, policy: NoticePolicy, occurrence: Occurrence | None
) -> datetime | None:
    """When the next status update is expected (the severity's reminder interval)."""
    if incident.status == "resolved":
        return None
    interval = policy.update_intervals.get(Severity(incident.severity))
    if interval is None:
        return None
    base = incident.last_update_at or incident.declared_at
    if occurrence is not None and occurrence.trigger is Trigger.UPDATE:
        base = occurrence.at
    return base + interval


def snapshot(
    session: Session,
    incident: Incident,
    policy: NoticePolicy,
    *,
    trigger: Trigger,
    at: datetime,
    message: str = "",
    old_severity: str | None = None,
    occurrence: Occurrence | None = None,
    actor: str = "",
) -> dict[str, Any]:
    """What a notice says: the incident as it is in this transaction."""
    assert incident.id is not None
    manager = session.exec(
        select(IncidentRole.user_id).where(
            IncidentRole.incident_id == incident.id,
            IncidentRole.role == Role.INCIDENT_MANAGER.value,
        )
    ).first()
    following = next_update_at(incident, policy, occurrence)
    base = policy.status_page_base
    public = public_incident(session, incident) if base else None
    link = f"{base}/status/incidents/{public.public_id}" if public else policy.status_page_url
    return {
        "incident_id": incident.id,
        "number": incident.number,
        "title": incident.title,
        "severity": incident.severity,
        "old_severity": old_severity,
        "status": incident.status,
        "summary": incident.summary,
        "impact": incident.impact,
        "resolution": incident.resolution,
        "private": incident.private,
        "manager": manager,
        "actor": actor,
        "declared_at": incident.declared_at.isoformat(),
        "resolved_at": incident.resolved_at.isoformat() if incident.resolved_at else None,
        "trigger": trigger.value,
        "at": at.isoformat(),
        "message": message,
        "next_update_at": following.isoformat() if following else None,
        "status_page_url": link,
        "subscribe_url": f"{base}/status/subscribe" if base else "",
        "thread": f"incident-{incident.id}.{int(incident.declared_at.timestamp())}",
    }


def insert(
    session: Session,
    *,
    incident_id: int | None,
    ref: str,
    trigger: Trigger,
    payload: dict[str, Any],
    planned: list[Target],
    now: datetime,
    requested_by: str | None = None,
) -> int:
    """Add the planned rows (a row with the same key already there is kept); count them."""
    if not planned:
        return 0
    body = json.dumps(payload, sort_keys=True)
    values = [
        {
            "key": notice_key(incident_id or 0, ref, t.channel, t.recipient),
            "incident_id": incident_id,
            "event": ref[:64],
            "trigger": trigger.value,
            "group_name": t.group,
            "quadrant": t.quadrant,
            "channel": t.channel,
            "recipient": t.recipient,
            "payload": body,
            "state": HELD if t.held else PENDING,
            "due_at": None if t.held else now,
            "attempts": 0,
            "requested_by": requested_by,
            "created_at": now,
        }
        for t in planned
    ]
    statement = insert_ignoring(session, StakeholderNotice).values(values)
    statement = statement.on_conflict_do_nothing(index_elements=["key"])
    return len(session.execute(statement.returning(col(StakeholderNotice.id))).all())


def plan_event(
    session: Session, event: Event, *, policy: NoticePolicy, now: datetime | None = None
) -> int:
    """Plan the notices of one committed-to-be incident change; returns the rows added."""
    if not policy.directory.groups and not policy.webhooks:
        return 0  # nobody to tell: not even a query
    occurrence = occurrence_of(event)
    if occurrence is None:
        return 0
    incident = session.get(Incident, occurrence.incident_id)
    if incident is None or incident.id is None:
        return 0
    session.flush()  # the change itself, so the snapshot shows it
    severity = Severity(incident.severity)
    planned = targets(
        policy,
        trigger=occurrence.trigger,
        severity=severity,
        components=components_of(session, incident),
        private=held_back(incident),  # a drill: held like a private incident's
        released=released_groups(session, incident.id) if held_back(incident) else set(),
    )
    payload = snapshot(
        session,
        incident,
        policy,
        trigger=occurrence.trigger,
        at=occurrence.at,
        message=occurrence.message,
        old_severity=occurrence.old_severity,
        occurrence=occurrence,
        actor=occurrence.actor,
    )
    return insert(
        session,
        incident_id=incident.id,
        ref=occurrence.ref,
        trigger=occurrence.trigger,
        payload=payload,
        planned=planned,
        now=now_or(now),
    )


_QUIET: ContextVar[bool] = ContextVar("stakeholder_notices_quiet", default=False)


@contextmanager
def quietly() -> Iterator[None]:
    """Changes committed inside (on this thread) notify no stakeholder: the incident
    manager's "don't notify stakeholders about this update"."""
    token = _QUIET.set(True)
    try:
        yield
    finally:
        _QUIET.reset(token)


def recorder(policy: NoticePolicy) -> Callable[[Session, Event], None]:
    """The in-transaction hook for `Services.recorders`: plan each change's notices."""

    def record(session: Session, event: Event) -> None:
        if not _QUIET.get():
            plan_event(session, event, policy=policy, now=event.at)

    return record
