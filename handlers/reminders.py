"""Reminder listeners: snooze buttons (issue: status-update reminders)."""

from __future__ import annotations

from slack_bolt import App


def register(app: App) -> None:
    """Register reminder listeners."""
