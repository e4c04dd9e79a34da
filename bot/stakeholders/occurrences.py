"""Which incident events stakeholders hear about, read in one place.

`occurrence_of` is the only code here that looks inside incident events (one dataclass per
kind, bot/core/events.py): a new kind, or a changed one, touches this one function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core.events import (
    Event,
    IncidentDeclared,
    IncidentResolved,
    SeverityChanged,
    UpdatePosted,
)
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


def occurrence_of(event: Event) -> Occurrence | None:
    """The stakeholder view of `event`, or None for events stakeholders are not told about."""
    stamp = event.at.isoformat(timespec="microseconds")
    old: str | None = None
    new: str | None = None
    if isinstance(event, IncidentDeclared):
        trigger, ref, message = Trigger.DECLARED, "declared", ""
    elif isinstance(event, UpdatePosted):
        trigger, ref, message = Trigger.UPDATE, f"update:{event.update_id}", event.message
    elif isinstance(event, SeverityChanged):
        trigger, ref, message = Trigger.SEVERITY_CHANGED, f"severity:{stamp}", ""
        old, new = event.old.value, event.new.value
    elif isinstance(event, IncidentResolved):
        trigger, ref, message = Trigger.RESOLVED, f"resolved:{stamp}", event.resolution
    else:
        return None
    return Occurrence(
        trigger=trigger,
        incident_id=event.incident_id,
        ref=ref,
        actor=event.actor,
        at=event.at,
        message=message,
        old_severity=old,
        new_severity=new,
    )
