"""Owners' reminders (action items, post-mortems) on Slack: how a claimed one is sent.

The delivery engine (`bot.core.delivery`, `bot.slack.delivery`) claims, sends once and
records; this module says what an owner's reminder looks like: a direct message whose first
block carries its key (`blocks.action_items`). It runs on the same scheduler, at the same
SCHEDULER_TICK_SECONDS, as the status-update reminders (see `bot.slack.jobs`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from blocks import action_items as render
from bot.followups.claims import FollowUpSource, Outgoing
from bot.followups.policy import FollowUpPolicy
from bot.slack.delivery import Courier, Message, Runner, delivery_client
from bot.slack.services import Services
from storage.types import utcnow


def message(out: Outgoing, now: datetime) -> Message:
    """The reminder, sent to its owner directly."""
    return Message(
        user=out.recipient, text=render.followup_text(out), blocks=render.followup_blocks(out)
    )


def courier(policy: FollowUpPolicy) -> Courier[Outgoing]:
    """How owners' reminders travel: the `followup_reminder` table, as direct messages."""
    return Courier(
        source=FollowUpSource(policy), compose=message, key_of=render.key_of, history_pages=3
    )


class FollowUpTicker(Runner[Outgoing]):
    """One replica's loop over due owners' reminders."""

    def __init__(
        self,
        services: Services,
        *,
        owner: str,
        clock: Callable[[], datetime] = utcnow,
        policy: FollowUpPolicy | None = None,
    ) -> None:
        self.policy = policy or FollowUpPolicy.from_settings(services.settings)
        slack = delivery_client(services.slack, lease=self.policy.lease)
        super().__init__(services.db, slack, courier(self.policy), owner=owner, clock=clock)
