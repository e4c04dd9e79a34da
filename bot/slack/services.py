"""What every part of the bot needs at run time, built once by app.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from sqlmodel import Session

from bot.core.events import EventBus, IncidentEvent
from bot.settings import Settings
from storage import Database

if TYPE_CHECKING:
    from bot.slack.notice_sender import NoticeTicker
    from bot.slack.surfaces import IncidentSlack
    from bot.slack.timeline_capture import TimelineCapture


@dataclass
class Services:
    """Settings, the database, the Slack Web API client and the incident event bus."""

    settings: Settings
    db: Database
    slack: WebClient
    events: EventBus = field(default_factory=EventBus)
    surfaces: IncidentSlack | None = None  # set by bot.slack.subscribers.install
    timeline: TimelineCapture | None = None  # set by bot.slack.subscribers.install
    notices: NoticeTicker | None = None  # set by bot.slack.notice_sender.schedule
    # Called with each event inside the transaction that made it (stakeholder notices).
    recorders: list[Callable[[Session, IncidentEvent], None]] = field(default_factory=list)

    def commit(self, operation: Callable[[Session], IncidentEvent | None]) -> IncidentEvent | None:
        """Run a domain operation in one transaction; return its event, not yet published."""
        with self.db.session() as session:
            event = operation(session)
            if event is not None:
                self.record(session, event)
            return event

    def record(self, session: Session, event: IncidentEvent) -> None:
        """Let the recorders add their rows to the transaction of `event`'s change."""
        for recorder in self.recorders:
            recorder(session, event)

    def publish(self, event: IncidentEvent | None) -> None:
        """Tell every subscriber about a committed change."""
        if event is not None:
            self.events.publish(event)

    def apply(self, operation: Callable[[Session], IncidentEvent | None]) -> IncidentEvent | None:
        """Run a domain operation in one transaction, then publish its event once committed."""
        event = self.commit(operation)
        self.publish(event)
        return event
