"""Owners' reminders (action items, post-mortems) on Slack: how a claimed one is sent.

The delivery engine (`bot.core.delivery`, `bot.slack.delivery`) claims, sends once and
records; this module is the `followup_reminder` source's send function: a direct message
whose first block carries its key (`blocks.action_items`). It runs on the same scheduler, at
the same SCHEDULER_TICK_SECONDS, as the status-update reminders (see `bot.slack.jobs`).
An owner who may not see the incident (a private one whose channel they left) is not sent
anything about it: the reminder is given up until its item or post-mortem changes.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from slack_sdk import WebClient

from blocks import action_items as render
from bot.core.delivery import Delivered, Failure, Job, Receipt
from bot.followups.claims import FollowUpSource, Outgoing
from bot.followups.policy import FollowUpPolicy
from bot.slack.access import SlackAccess
from bot.slack.delivery import Message, Runner, Send, SlackPost, delivery_client
from bot.slack.services import Services
from storage.types import utcnow


def message(out: Outgoing, now: datetime) -> Message:
    """The reminder, sent to its owner directly."""
    return Message(
        user=out.recipient, text=render.followup_text(out), blocks=render.followup_blocks(out)
    )


def post(slack: WebClient) -> SlackPost[Outgoing]:
    """The send function of the `followup_reminder` source: a direct message to the owner."""
    return SlackPost(slack, message, render.key_of, history_pages=3)


def visible_only(send: Send[Outgoing], access: SlackAccess) -> Send[Outgoing]:
    """`send`, for owners who may see the incident; a permanent failure for the others."""

    def deliver(
        job: Job[Outgoing], clock: Callable[[], datetime], renew: Callable[[], bool]
    ) -> Receipt | Failure | None:
        out = job.item
        if not access.may_see(out.recipient, out.subject.incident_id):
            return Failure("the owner may not see this private incident", Delivered.NO, True)
        return send(job, clock, renew)

    return deliver


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
        source = FollowUpSource(self.policy)
        send = visible_only(post(slack), services.access)
        super().__init__(
            services.db, source, send, owner=owner, clock=clock, observe=services.observe_delivery
        )
