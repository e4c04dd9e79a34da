"""Status-update reminders and nudges on Slack: how a claimed reminder is posted.

The delivery engine (`bot.core.delivery`, `bot.slack.delivery`) claims, sends once and
records; this module says what a reminder looks like: a message in the incident's channel
whose first block carries its key (`blocks.reminders`), found again in the channel's history.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from blocks import reminders as render
from bot.reminders.claims import Outgoing, ReminderSource
from bot.reminders.policy import ReminderPolicy
from bot.slack.delivery import Courier, Message


def message(out: Outgoing, now: datetime, *, nudge_max: int = 0) -> Message:
    """The reminder, posted in the incident's channel."""
    return Message(
        channel=out.channel_id,
        text=render.reminder_text(out, now=now),
        blocks=render.reminder_blocks(out, now=now, nudge_max=nudge_max),
    )


def courier(policy: ReminderPolicy) -> Courier[Outgoing]:
    """How reminders travel: the `reminder` table, posted in incident channels."""
    return Courier(
        source=ReminderSource(policy),
        compose=partial(message, nudge_max=policy.nudge_max),
        key_of=render.key_of,
    )
