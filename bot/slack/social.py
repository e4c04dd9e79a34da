"""The Slack side of Mastodon approvals: the preview in the incident channel.

`SocialPreviewSender` is the notice sender of the `preview` channel (bot.slack.notice_sender):
the first preview row of a post posts the preview (Post / Edit / Skip) in the incident's
channel, mentioning its incident manager, under the row's key in the message metadata (an
attempt that may have got through is looked for first, so it is posted once); every later
row updates that message in place (`chat.update`) with what `bot.stakeholders.social.post_of`
says at that moment. The preview's ts is the first row's provider reference.
"""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

from blocks import social as render
from bot import incidents
from bot.core.sending import Retryable
from bot.core.vocabulary import Role
from bot.slack import keyed
from bot.slack.notices import classify
from bot.stakeholders import social
from bot.stakeholders.notice import Notice
from storage import Database

HISTORY_LIMIT = 200


class SocialPreviewSender:
    """Posts and updates Mastodon post previews."""

    def __init__(self, db: Database, slack: WebClient) -> None:
        self.db = db
        self.slack = slack

    def send(self, notice: Notice) -> str | None:
        """Post the preview (its ts back) or update it in place."""
        channel = notice.incident_channel_id
        if not channel:
            raise Retryable("the incident's channel is not set up yet")
        post_key = str(notice.payload.get("post_key") or "")
        with self.db.read() as session:
            post = social.post_of(session, key=post_key)
            ts = social.preview_ts(session, post=post)
            roles = incidents.roles_of(session, incident_id=post.incident_id)
        manager = roles.get(Role.INCIDENT_MANAGER)
        number = int(notice.payload.get("number") or 0)
        message: dict[str, Any] = {
            "text": render.preview_text(post, number=number),
            "blocks": render.preview_blocks(post, number=number, manager=manager),
        }
        if notice.payload.get("refresh"):
            if ts is None:
                raise Retryable("the preview is not posted yet")
            try:
                self.slack.chat_update(channel=channel, ts=ts, **message)
            except Exception as exc:
                raise classify(exc, "could not update the Mastodon preview") from exc
            return None
        if notice.attempts > 0 or notice.outcome_unknown:
            found = self._find(channel, notice.key)
            if found is not None:
                return found
        try:
            answer = self.slack.chat_postMessage(
                channel=channel,
                metadata=keyed.metadata(notice.key),
                unfurl_links=False,
                **message,
            )
        except Exception as exc:
            raise classify(exc, "could not post the Mastodon preview") from exc
        return str(answer["ts"])

    def _find(self, channel: str, key: str) -> str | None:
        try:
            return keyed.find_recent(self.slack, channel, key, limit=HISTORY_LIMIT)
        except Exception as exc:
            raise classify(exc, "could not look for the Mastodon preview") from exc
