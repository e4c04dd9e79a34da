"""Events API listeners that belong to no feature yet.

Bolt answers `url_verification` and `ssl_check` itself. Events the bot subscribes to but
does not act on are acknowledged here so Slack does not retry them.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from handlers import timeline
from handlers.guard import guarded


def ignore(ack: Ack) -> None:
    """Acknowledge and do nothing."""
    ack()


def on_message(ack: Ack, event: dict[str, Any], context: BoltContext) -> None:
    """Acknowledge every message event; edits and deletions update the timeline."""
    ack()
    subtype = event.get("subtype")
    if subtype == "message_changed":
        timeline.message_changed(event, context)
    elif subtype == "message_deleted":
        timeline.message_deleted(event, context)


def register(app: App) -> None:
    """Acknowledge subscribed events no feature handles."""
    app.event("message")(guarded(on_message))
