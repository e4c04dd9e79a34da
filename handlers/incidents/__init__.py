"""Listeners for declaring and running incidents."""

from __future__ import annotations

from slack_bolt import App

from handlers.incidents import declare, lifecycle, listing, roles


def register(app: App) -> None:
    """Register every incident listener."""
    declare.register(app)
    lifecycle.register(app)
    roles.register(app)
    listing.register(app)
