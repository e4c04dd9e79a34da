"""What every part of the bot needs at run time, built once by app.py.

`Services.apply` is the one way to change something: it runs a domain operation in one
transaction and, once committed, publishes the event(s) the operation returned to the
subscribers `bot.slack.subscribers.install` lists. Recorders run inside that transaction
with each event, so what they add (stakeholder notices) commits with the change or not at all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from slack_sdk import WebClient
from sqlmodel import Session

from bot.core.events import Event, EventBus, Events, as_list
from bot.settings import Settings
from bot.slack.access import SlackAccess
from bot.slack.directory import SlackDirectory
from bot.slack.membership import ChannelMembers
from bot.slack.surfaces import IncidentSlack
from bot.slack.timeline_capture import TimelineCapture
from bot.stakeholders.planning import NoticePolicy, recorder
from storage import Database

if TYPE_CHECKING:
    from bot.slack.notice_sender import NoticeRunner

R = TypeVar("R", bound=Events)

if TYPE_CHECKING:
    from bot.slack.statuspage import StatusPageJobs


class Services:
    """Settings, the database, the Slack Web API client and directory, the event bus, the
    Slack surfaces, timeline capture and access facts (built here, so they are always there)."""

    def __init__(
        self,
        *,
        settings: Settings,
        db: Database,
        slack: WebClient,
        directory: SlackDirectory | None = None,
        events: EventBus | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.slack = slack
        self.directory = directory or SlackDirectory(slack)
        self.members = ChannelMembers(slack)  # who sees private incidents (console, Home)
        self.events = events or EventBus()
        self.surfaces = IncidentSlack(self)
        self.timeline = TimelineCapture(self)
        # Called with each event inside the transaction that made it.
        self.recorders: list[Callable[[Session, Event], None]] = [
            recorder(NoticePolicy.from_settings(settings))  # stakeholder notices
        ]
        self.notices: NoticeRunner | None = None  # the notice loop (bot.slack.jobs.schedule)
        self.status_page_jobs: StatusPageJobs | None = None  # set by bot.slack.statuspage.schedule
        self.access = SlackAccess(self)  # facts about people for the permission rules
        # Imported here: the triage side declares incidents through bot.slack.operations,
        # which needs this module.
        from bot.slack.alert_triage import AlertTriage

        self.alerts: AlertTriage = AlertTriage(self, settings.alert_rules())

    def apply(
        self, operation: Callable[[Session], R], *, on_commit: Callable[[], object] | None = None
    ) -> R:
        """Run a domain operation in one transaction, then publish its event(s), in order.

        The operation returns one event, several or none (None). `on_commit` runs once the
        transaction has committed and before any subscriber (to close a form first, say).
        An exception from the operation rolls everything back and publishes nothing.
        """
        with self.db.session() as session:
            result = operation(session)
            for event in as_list(result):
                for record in self.recorders:
                    record(session, event)
        if on_commit is not None:
            on_commit()
        for event in as_list(result):
            self.events.publish(event)
        return result
