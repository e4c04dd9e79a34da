"""What every part of the bot needs at run time, built once by app.py.

`Services.apply` is the one way to change something: it runs a domain operation in one
transaction and, in that same transaction, writes the deliveries its event(s) cause to the
outbox (one per event and subscriber, `bot.outbox.enqueue`); once committed, it wakes the
outbox (`bot.slack.outbox`), which delivers them in the background.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from slack_sdk import WebClient
from sqlmodel import Session

from bot import outbox
from bot.core.events import EventBus, Events, as_list
from bot.settings import Settings
from bot.slack.directory import SlackDirectory
from bot.slack.outbox import Outbox
from bot.slack.timeline_capture import TimelineCapture
from storage import Database

R = TypeVar("R", bound=Events)


class Services:
    """Settings, the database, the Slack Web API client and directory, the subscriptions
    (`events`), the outbox that delivers them, and the timeline capture."""

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
        self.events = events or EventBus()
        self.outbox = Outbox(self)
        self.timeline = TimelineCapture(self)

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
            written = outbox.enqueue(session, self.events, as_list(result))
        if on_commit is not None:
            on_commit()
        if written:
            self.outbox.kick()
        return result
