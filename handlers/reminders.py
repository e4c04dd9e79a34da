"""Reminder listeners: the snooze buttons on a status-update reminder.

The reminder's other buttons reuse the card's listeners: "Post update" opens the update
form (`Action.POST_UPDATE`) and "Assign incident manager" the role form (`Action.ASSIGN_ROLE`).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks.reminders import SNOOZE_ACTION, snooze_label, snoozed_blocks
from bot import reminders
from bot.core.errors import InvalidInput
from bot.reminders.policy import ReminderPolicy
from handlers.context import services_of
from handlers.guard import guarded


def _incident_and_minutes(action: dict[str, Any]) -> tuple[int, int]:
    incident, _, minutes = str(action.get("value") or "").partition(":")
    if not (incident.isdigit() and minutes.isdigit()):
        raise InvalidInput("That snooze button is not one of ours.")
    return int(incident), int(minutes)


def snooze_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Reminder button: hold back the next reminder, then show who snoozed it and until when."""
    ack()
    incident_id, minutes = _incident_and_minutes(body["actions"][0])
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
    app.action(SNOOZE_ACTION)(guarded(snooze_button))
