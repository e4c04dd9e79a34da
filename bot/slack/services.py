"""What every part of the bot needs at run time, built once by app.py.

`Services.apply` is the one way to change something: it runs a domain operation in one
transaction and, in that same transaction, writes the deliveries its event(s) cause to the
outbox (one per event and subscriber, `bot.outbox.enqueue`); once committed, it wakes the
outbox (`bot.slack.outbox`), which delivers them in the background.
Recorders run inside that transaction with each event, so what they add (stakeholder
notices) commits with the change or not at all; `after_commit` hooks (in-memory wake-ups)
run with each event once it has.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from slack_sdk import WebClient
from sqlmodel import Session

from bot import outbox
from bot.alerts import incident_escalation
from bot.core.events import Event, EventBus, Events, as_list
from bot.settings import Settings
from bot.slack.access import SlackAccess
from bot.slack.directory import SlackDirectory
from bot.slack.membership import ChannelMembers
from bot.slack.outbox import Outbox
from bot.slack.timeline_capture import TimelineCapture
from bot.stakeholders.planning import NoticePolicy, recorder
from storage import Database

if TYPE_CHECKING:
    from bot.slack.notice_sender import NoticeRunner

log = logging.getLogger(__name__)
R = TypeVar("R", bound=Events)

if TYPE_CHECKING:
    from bot.slack.statuspage import StatusPageJobs


class Services:
    """Settings, the database, the Slack Web API client and directory, the subscriptions
    (`events`), the outbox that delivers them, timeline capture and access facts (built
    here, so they are always there)."""

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
        # Told (channel, outcome) of every delivery the engine handled (web.observability).
        self.delivery_hooks: list[Callable[[str, str], None]] = []
        self.outbox = Outbox(self)
        self.timeline = TimelineCapture(self)
        # Called with each event inside the transaction that made it.
        self.recorders: list[Callable[[Session, Event], None]] = [
            recorder(NoticePolicy.from_settings(settings)),  # stakeholder notices
            # incidents whose manager has not acknowledged (ALERT_RULES_FILE `incidents:`)
            incident_escalation.recorder(lambda: self.alerts.rules),
        ]
        # Called with each event once its transaction has committed (in-memory wake-ups).
        self.after_commit: list[Callable[[Event], None]] = []
        self.notices: NoticeRunner | None = None  # the notice loop (bot.slack.jobs.schedule)
        self.status_page_jobs: StatusPageJobs | None = None  # set by bot.slack.statuspage.schedule
        self.access = SlackAccess(self)  # facts about people for the permission rules
        # Imported here: the triage side declares incidents through bot.slack.operations,
        # which needs this module.
        from bot.slack.alert_triage import AlertTriage

        self.alerts: AlertTriage = AlertTriage(self, settings.alert_rules())

    def observe_delivery(self, channel: str, outcome: str) -> None:
        """A delivery source's runner handled one item (sent, found, skipped, failed...)."""
        for hook in self.delivery_hooks:
            hook(channel, outcome)

    def apply(
        self, operation: Callable[[Session], R], *, on_commit: Callable[[], object] | None = None
    ) -> R:
        """Run a domain operation and write the deliveries of its event(s), in one transaction.

        The operation returns one event, several or none (None). `on_commit` runs once the
        transaction has committed (to close a form, say); then the outbox is woken to deliver
        at once, off this thread. An exception from the operation rolls everything back: no
        change, no delivery.
        """
        with self.db.session() as session:
            result = operation(session)
            for event in as_list(result):
                for record in self.recorders:
                    record(session, event)
            written = outbox.enqueue(session, self.events, as_list(result))
        if on_commit is not None:
            on_commit()
        if written:
            self.outbox.kick()
        for event in as_list(result):
            for hook in self.after_commit:
                try:
                    hook(event)
                except Exception:  # a wake-up only: what it would wake is durable already
                    log.exception("after-commit hook %s failed", getattr(hook, "__name__", hook))
        return result
