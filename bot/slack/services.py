"""What every part of the bot needs at run time, built once by app.py.

`Services.apply` is the one way to change something: it runs a domain operation in one
transaction and, once committed, publishes the event(s) the operation returned to the
subscribers `bot.slack.subscribers.install` lists.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from slack_sdk import WebClient
from sqlmodel import Session

from bot.core.events import EventBus, Events, as_list
from bot.settings import Settings
from bot.slack.directory import SlackDirectory
from bot.slack.membership import ChannelMembers
from bot.slack.surfaces import IncidentSlack
from bot.slack.timeline_capture import TimelineCapture
from storage import Database

R = TypeVar("R", bound=Events)


class Services:
    """Settings, the database, the Slack Web API client and directory, the event bus, and the
    Slack surfaces and timeline capture (built here, so they are always there)."""

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
        if on_commit is not None:
            on_commit()
        for event in as_list(result):
            self.events.publish(event)
        return result
