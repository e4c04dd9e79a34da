"""Reminder listeners: the snooze buttons on a status-update reminder.

The reminder's other buttons reuse the card's listeners: "Post update" opens the update
form (`Action.POST_UPDATE`) and "Assign incident manager" the role form (`Action.ASSIGN_ROLE`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks.payloads import SnoozeValue
from blocks.reminders import SNOOZE_ACTION, snooze_label, snoozed_blocks
from bot import reminders
from bot.permissions import Permission
from bot.reminders.policy import ReminderPolicy
from handlers.access import on_action
from handlers.context import scope_of, services_of


def snooze_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Reminder button: hold back the next reminder, then show who snoozed it and until when."""
    ack()
    snooze = scope_of(context).expect(SnoozeValue)
    incident_id, minutes = snooze.incident_id, snooze.minutes
    services = services_of(context)
    policy = ReminderPolicy.from_settings(services.settings)
    with services.db.session() as session:
        until = reminders.snooze(session, incident_id=incident_id, minutes=minutes, policy=policy)
    message = body.get("message") or {}
    channel = (body.get("channel") or {}).get("id")
    if not (channel and message.get("ts")):
        return
    user = body["user"]["id"]
    client.chat_update(
        channel=channel,
        ts=message["ts"],
        text=f"{message.get('text', '')} (snoozed for {snooze_label(minutes)} by <@{user}>)",
        blocks=snoozed_blocks(message, incident_id=incident_id, user=user, until=until),
    )


def register(app: App) -> None:
    """Register reminder listeners."""
    on_action(app, SNOOZE_ACTION, snooze_button, need=Permission.RESPOND)
