"""Playground mode's web side: the start-up (startup.py) and the page with its API (api.py).

This module stays light: app.py imports it on every start to decide, and imports the rest
only in playground mode.
"""

from __future__ import annotations

import ipaddress

from bot.settings import Settings


def wanted(flag: bool, settings: Settings) -> bool:
    """Playground mode: asked for, or no Slack bot token to connect with (empty, or the
    placeholder of .env.example)."""
    return flag or not settings.slack_token_given


def is_loopback(host: str) -> bool:
    """127.0.0.1, ::1, localhost."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
