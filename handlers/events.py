"""Events API listeners that belong to no feature yet.

Bolt answers `url_verification` and `ssl_check` itself. Events the bot subscribes to but
does not act on are acknowledged here so Slack does not retry them.
"""

from __future__ import annotations

from slack_bolt import Ack, App


def ignore(ack: Ack) -> None:
    """Acknowledge and do nothing."""
    ack()


def register(app: App) -> None:
    """Acknowledge subscribed events no feature handles."""
    app.event("message")(ignore)
