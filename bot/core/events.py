"""The one incident event that everything hangs off.

Every change to an incident (declared, status, severity, role, update, resolved) is published
here after it has been committed. Subscribers (Slack surfaces, the timeline, reminders, and
later the status page and stakeholder notices) react to it. A failing subscriber is logged
and does not stop the others: the change is already safe in the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

log = logging.getLogger(__name__)


class EventKind(StrEnum):
    """What happened to an incident."""

    DECLARED = "declared"
    STATUS_CHANGED = "status_changed"
    SEVERITY_CHANGED = "severity_changed"
    ROLE_ASSIGNED = "role_assigned"
    UPDATE_POSTED = "update_posted"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class IncidentEvent:
    """A committed change to one incident.

    `detail` carries the specifics: old/new for status and severity, role/user/previous for
    roles, update_id/message for updates, resolution for resolve.
    """

    kind: EventKind
    incident_id: int
    actor: str
    at: datetime
    detail: dict[str, Any] = field(default_factory=dict)


Subscriber = Callable[[IncidentEvent], None]


class EventBus:
    """Synchronous publish/subscribe of incident events, in subscription order."""

    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        """Call `subscriber` for every event published from now on."""
        self._subscribers.append((name, subscriber))

    def publish(self, event: IncidentEvent) -> None:
        """Deliver `event` to every subscriber; one failing does not stop the rest."""
        for name, subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                log.exception(
                    "subscriber %s failed on %s of incident %s", name, event.kind, event.incident_id
                )
