"""Which incident events stakeholders hear about, read in one place.

Incident events are becoming one dataclass per kind; `occurrence_of` is the only code here
that looks inside them, so that change touches this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.events import EventKind, IncidentEvent
from bot.stakeholders.config import Trigger


@dataclass(frozen=True)
class Occurrence:
    """An incident event as stakeholder notices see it.

    `ref` names the event uniquely within its incident (one declaration; each update by its
    id; a severity change or a resolution by when it happened), so planning the same event
    twice yields the same notice keys.
    """

    trigger: Trigger
    incident_id: int
    ref: str
    actor: str
    at: datetime
    message: str = ""
    old_severity: str | None = None
    new_severity: str | None = None


def occurrence_of(event: IncidentEvent) -> Occurrence | None:
    """The stakeholder view of `event`, or None for events stakeholders are not told about."""
    detail = event.detail
    stamp = event.at.isoformat(timespec="microseconds")
    if event.kind is EventKind.DECLARED:
        trigger, ref, message = Trigger.DECLARED, "declared", ""
    elif event.kind is EventKind.UPDATE_POSTED:
        trigger, ref = Trigger.UPDATE, f"update:{detail.get('update_id')}"
        message = str(detail.get("message") or "")
    elif event.kind is EventKind.SEVERITY_CHANGED:
        trigger, ref, message = Trigger.SEVERITY_CHANGED, f"severity:{stamp}", ""
    elif event.kind is EventKind.RESOLVED:
        trigger, ref = Trigger.RESOLVED, f"resolved:{stamp}"
        message = str(detail.get("resolution") or "")
    else:
        return None
    old = detail.get("old") if trigger is Trigger.SEVERITY_CHANGED else None
    new = detail.get("new") if trigger is Trigger.SEVERITY_CHANGED else None
    return Occurrence(
        trigger=trigger,
        incident_id=event.incident_id,
        ref=ref,
        actor=event.actor,
        at=event.at,
        message=message,
        old_severity=str(old) if old else None,
        new_severity=str(new) if new else None,
    )
