"""The Slack side of action items: announcing new ones, saying in the channel when one is done.

`ActionItemSlack.on_event` is an event-bus subscriber. Both messages are best effort: the
item is saved already, and a Slack refusal is logged, not retried.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError

from blocks import action_items as render
from bot import action_items, incidents
from bot.core.events import ActionItemCompleted, ActionItemCreated, ActionItemEvent
from bot.core.slack_text import escape
from bot.slack.services import Services
from storage.models import Incident
from storage.models_postmortems import ActionItem

log = logging.getLogger(__name__)


class ActionItemSlack:
    """Tells the incident's channel and the owner about action items."""

    def __init__(self, services: Services) -> None:
        self.services = services

    def _read(self, event: ActionItemEvent) -> tuple[ActionItem, Incident]:
        with self.services.db.read() as session:
            item = action_items.get(session, item_id=event.item_id)
            return item, incidents.get(session, incident_id=item.incident_id)

    def on_event(self, event: ActionItemEvent) -> None:
        """Event-bus subscriber: announce new items, tell the channel about done ones."""
        if isinstance(event, ActionItemCreated):
            self.announce(event)
        elif isinstance(event, ActionItemCompleted):
            self.completed(event)

    def announce(self, event: ActionItemCreated) -> None:
        """Tell the incident's channel and the owner about a new item.

        Made from a message in the incident's channel, the announcement replies in that
        message's thread.
        """
        item, incident = self._read(event)
        slack = self.services.slack
        thread_ts = None
        if item.channel_id and item.channel_id == incident.channel_id:
            thread_ts = event.thread_ts or item.message_ts
        if incident.channel_id:
            try:
                slack.chat_postMessage(
                    channel=incident.channel_id,
                    thread_ts=thread_ts,
                    text=render.created_text(item, incident, actor=event.actor),
                    unfurl_links=False,
                )
            except SlackApiError as exc:
                log.warning("could not announce AI-%s: %s", item.id, exc.response.get("error"))
        try:
            slack.chat_postMessage(
                channel=item.owner,
                text=render.owner_text(item, incident),
                blocks=render.owner_blocks(item, incident, actor=event.actor),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            log.warning("could not tell %s about AI-%s: %s", item.owner, item.id, exc.response)

    def completed(self, event: ActionItemCompleted) -> None:
        """Say in the incident's channel who marked the item done."""
        item, incident = self._read(event)
        if not incident.channel_id:
            return
        try:
            self.services.slack.chat_postMessage(
                channel=incident.channel_id,
                text=f":white_check_mark: <@{event.actor}> marked *AI-{item.id}* done: "
                + escape(item.text),
            )
        except SlackApiError as exc:
            log.warning("could not tell the channel AI-%s is done: %s", item.id, exc.response)
