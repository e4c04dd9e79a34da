"""The Slack side of action items: announcing new ones, saying in the channel when one is done.

`ActionItemSlack.on_event` is an outbox subscriber: each message goes out once per delivery
(`bot.slack.keyed.post_once`), and a refusal is retried or given up by the delivery engine,
shown to admins either way.
"""

from __future__ import annotations

from slack_sdk import WebClient

from blocks import action_items as render
from bot import action_items, incidents
from bot.core.events import ActionItemCompleted, ActionItemCreated, ActionItemEvent, Delivery
from bot.core.slack_text import escape
from bot.slack.keyed import post_once
from bot.slack.services import Services
from storage.models import Incident
from storage.models_postmortems import ActionItem


class ActionItemSlack:
    """Tells the incident's channel and the owner about action items."""

    def __init__(self, services: Services, *, slack: WebClient | None = None) -> None:
        self.services = services
        self.slack = slack or services.slack

    def _read(self, event: ActionItemEvent) -> tuple[ActionItem, Incident]:
        with self.services.db.read() as session:
            item = action_items.get(session, item_id=event.item_id)
            return item, incidents.get(session, incident_id=item.incident_id)

    def on_event(self, event: ActionItemEvent, delivery: Delivery) -> None:
        """Outbox subscriber: announce new items, tell the channel about done ones."""
        if isinstance(event, ActionItemCreated):
            self.announce(event, delivery)
        elif isinstance(event, ActionItemCompleted):
            self.completed(event, delivery)

    def announce(self, event: ActionItemCreated, delivery: Delivery) -> None:
        """Tell the incident's channel and the owner about a new item.

        Made from a message in the incident's channel, the announcement replies in that
        message's thread.
        """
        item, incident = self._read(event)
        thread_ts = None
        if item.channel_id and item.channel_id == incident.channel_id:
            thread_ts = event.thread_ts or item.message_ts
        if incident.channel_id:
            post_once(
                self.slack,
                delivery,
                channel=incident.channel_id,
                thread_ts=thread_ts,
                text=render.created_text(item, incident, actor=event.actor),
                unfurl_links=False,
                part="channel",
            )
        post_once(
            self.slack,
            delivery,
            channel=item.owner,
            text=render.owner_text(item, incident),
            blocks=render.owner_blocks(item, incident, actor=event.actor),
            unfurl_links=False,
            part="owner",
        )

    def completed(self, event: ActionItemCompleted, delivery: Delivery) -> None:
        """Say in the incident's channel who marked the item done."""
        item, incident = self._read(event)
        if not incident.channel_id:
            return
        post_once(
            self.slack,
            delivery,
            channel=incident.channel_id,
            text=f":white_check_mark: <@{event.actor}> marked *AI-{item.id}* done: "
            + escape(item.text),
        )
