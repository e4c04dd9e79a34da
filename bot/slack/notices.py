"""Stakeholder notices over Slack: direct messages, channel invitations, user groups.

`SlackNoticeSender.send` speaks the senders' interface (raise Retryable or Permanent).
A DM whose earlier attempt has an unknown outcome is first looked for in the DM's recent
history by its key, so it is never posted twice. User groups are expanded with
`usergroups.users.list` (`members`): the sending loop turns a group's notice into one per
member before anything is sent.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import stakeholders as render
from bot.core.delivery import Delivered
from bot.core.sending import Permanent, Retryable, SendError
from bot.slack import delivery
from bot.stakeholders.notice import Notice
from bot.stakeholders.wording import facts

log = logging.getLogger(__name__)

HISTORY_LIMIT = 100


def classify(exc: Exception, what: str) -> SendError:
    """A Slack failure under the delivery engine's rules (`bot.slack.delivery.classify`):
    Retryable for rate limits, 5xx, network trouble and workspace-wide refusals, with
    `maybe_sent` when the outcome is unknown; Permanent for any other refusal."""
    failure = delivery.classify(exc, requested=True)
    if failure is None:  # (a SlackApiError always carries a refusal)
        return Retryable(f"{what}: {exc}")
    text = f"{what}: {failure.error}"
    if failure.permanent:
        return Permanent(text)
    maybe = failure.delivered is Delivered.MAYBE
    return Retryable(text, retry_after=failure.retry_after, maybe_sent=maybe)


def is_user_group(recipient: str) -> bool:
    """True for a Slack user group id (S...)."""
    return recipient.startswith("S")


class SlackNoticeSender:
    """DMs stakeholders and invites them to incident channels."""

    def __init__(self, slack: WebClient) -> None:
        self.slack = slack

    def members(self, group_id: str) -> list[str]:
        """The active members of a user group."""
        try:
            users = self.slack.usergroups_users_list(usergroup=group_id)["users"]
        except Exception as exc:
            raise classify(exc, f"could not list user group {group_id}") from exc
        return [str(u) for u in users or [] if u]

    def send(self, notice: Notice) -> None:
        """DM the member, or invite them to the incident's channel."""
        if notice.channel == "invite":
            self._invite(notice)
        else:
            self._dm(notice)

    def _invite(self, notice: Notice) -> None:
        channel = notice.incident_channel_id
        if not channel:
            raise Retryable("the incident's channel is not set up yet")
        try:
            self.slack.conversations_invite(channel=channel, users=notice.recipient)
        except SlackApiError as exc:
            if exc.response.get("error") == "already_in_channel":
                return
            raise classify(exc, "could not invite") from exc
        except Exception as exc:
            raise classify(exc, "could not invite") from exc

    def _dm(self, notice: Notice) -> None:
        data = facts(notice.payload, quadrant=notice.quadrant)
        if (notice.attempts > 0 or notice.outcome_unknown) and self._already_sent(notice):
            return
        manage = notice.quadrant == "manage_closely"
        try:
            self.slack.chat_postMessage(
                channel=notice.recipient,
                text=render.notice_text(data),
                blocks=render.notice_blocks(
                    data,
                    key=notice.key,
                    manager_id=notice.payload.get("manager"),
                    group=notice.group,
                    channel_id=notice.incident_channel_id if manage else None,
                ),
                unfurl_links=False,
            )
        except Exception as exc:
            raise classify(exc, "could not send the direct message") from exc

    def _already_sent(self, notice: Notice) -> bool:
        """True when an earlier attempt's DM is in the conversation after all."""
        try:
            opened = self.slack.conversations_open(users=notice.recipient)
            channel = opened["channel"]["id"]
            page: Any = self.slack.conversations_history(channel=channel, limit=HISTORY_LIMIT)
        except Exception as exc:
            raise classify(exc, "could not check the direct message history") from exc
        return any(render.key_of(m) == notice.key for m in page.get("messages") or [])
