"""What every part of the bot needs at run time, built once by app.py."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk import WebClient

from bot.settings import Settings
from storage import Database


@dataclass
class Services:
    """Settings, the database and the Slack Web API client."""

    settings: Settings
    db: Database
    slack: WebClient
