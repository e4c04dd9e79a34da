"""Timeline listeners (issue: timeline capture)."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    """Register timeline listeners."""
