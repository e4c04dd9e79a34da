"""Status-update reminders and nudges on Slack: how a claimed reminder is posted.

The delivery engine (`bot.core.delivery`, `bot.slack.delivery`) claims, sends once and
records; this module is the `reminder` source's send function: a message in the incident's
channel whose first block carries its key (`blocks.reminders`), found again in its history.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from slack_sdk import WebClient

from blocks import reminders as render
from bot.reminders.claims import Outgoing
from bot.reminders.policy import ReminderPolicy
from bot.slack.delivery import Message, SlackPost


def message(out: Outgoing, now: datetime, *, nudge_max: int = 0) -> Message:
    """The reminder, posted in the incident's channel."""
    return Message(
        channel=out.channel_id,
        text=render.reminder_text(out, now=now),
        blocks=render.reminder_blocks(out, now=now, nudge_max=nudge_max),
    )


def post(slack: WebClient, policy: ReminderPolicy) -> SlackPost[Outgoing]:
    """The send function of the `reminder` source: post in the incident's channel."""
    return SlackPost(slack, partial(message, nudge_max=policy.nudge_max), render.key_of)
