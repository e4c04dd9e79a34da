"""Posting a message once under a delivery id, however often the delivery is attempted.

Every message an outbox delivery posts carries its delivery id (`Delivery.key`, plus a part
name when one delivery posts several messages) in Slack's message metadata, which people do
not see. When an earlier attempt may have got through (`Delivery.check_first`: it timed out,
Slack answered 5xx, the replica died), `post_once` first looks for that id in the recent
history of the channel (or of the thread) and returns the message it finds instead of posting
a second one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_sdk import WebClient

from bot.core.events import Delivery

METADATA_TYPE = "incident_bot_delivery"
HISTORY_SLACK = timedelta(seconds=5)  # look a little before the first attempt
HISTORY_PAGES = 5  # pages of 200 messages searched for an earlier attempt


class LeaseLost(Exception):
    """Another replica has taken the delivery over: this one must not post."""


class PartFailed(Exception):
    """One part of a delivery of several (`what`, for people: "the update in the incident
    channel") failed with `cause` after another part may have gone out: the delivery counts
    as maybe delivered, so a retry looks for the parts already posted (by their keys)."""

    def __init__(self, what: str, cause: Exception) -> None:
        super().__init__(f"{what}: {cause}")
        self.what = what
        self.cause = cause


@dataclass(frozen=True)
class Posted:
    """A message in Slack: where, its ts, and whether an earlier attempt had posted it."""

    channel: str
    ts: str
    found: bool = False


def metadata(key: str) -> dict[str, Any]:
    """The message metadata that carries a delivery id."""
    return {"event_type": METADATA_TYPE, "event_payload": {"key": key}}


def key_of(message: dict[str, Any]) -> str | None:
    """The delivery id a message from `conversations.history` carries, if any."""
    meta = message.get("metadata") or {}
    if meta.get("event_type") != METADATA_TYPE:
        return None
    key = (meta.get("event_payload") or {}).get("key")
    return str(key) if key else None


def part_key(delivery: Delivery, part: str) -> str:
    """The id of one of several messages of one delivery."""
    return f"{delivery.key}/{part}" if part else delivery.key


def dm_channel(slack: WebClient, user: str) -> str:
    """The id of the direct-message channel with `user`."""
    return str(slack.conversations_open(users=user)["channel"]["id"])


def find(
    slack: WebClient,
    channel: str,
    key: str,
    delivery: Delivery,
    *,
    thread_ts: str | None = None,
) -> Posted | None:
    """The message carrying `key` that an earlier attempt of `delivery` posted, if any."""
    if channel.startswith(("U", "W")):
        channel = dm_channel(slack, channel)
    oldest = 0.0
    if delivery.since is not None:
        oldest = (delivery.since - HISTORY_SLACK).timestamp()
    cursor: str | None = None
    for _ in range(HISTORY_PAGES):
        kwargs: dict[str, Any] = {
            "channel": channel,
            "oldest": f"{oldest:.6f}",
            "limit": 200,
            "include_all_metadata": True,
        }
        if cursor:
            kwargs["cursor"] = cursor
        if thread_ts:
            page = slack.conversations_replies(ts=thread_ts, **kwargs)
        else:
            page = slack.conversations_history(**kwargs)
        for message in page.get("messages") or []:
            if key_of(message) == key:
                return Posted(channel, str(message["ts"]), found=True)
        cursor = (page.get("response_metadata") or {}).get("next_cursor")
        if not cursor:
            return None
    return None


def find_recent(
    slack: WebClient, channel: str, key: str, *, limit: int = 200, thread_ts: str | None = None
) -> str | None:
    """The ts of a recent message carrying `key` in `channel` (a user id: the DM), or in the
    thread of `thread_ts` there, if any: for senders that are not `Delivery`s (escalations,
    Mastodon previews) to post once."""
    if channel.startswith(("U", "W")):
        channel = dm_channel(slack, channel)
    page: Any
    if thread_ts:
        page = slack.conversations_replies(
            channel=channel, ts=thread_ts, limit=limit, include_all_metadata=True
        )
    else:
        page = slack.conversations_history(channel=channel, limit=limit, include_all_metadata=True)
    for message in page.get("messages") or []:
        if key_of(message) == key:
            return str(message["ts"])
    return None


def post_once(
    slack: WebClient,
    delivery: Delivery,
    *,
    channel: str,
    text: str,
    part: str = "",
    thread_ts: str | None = None,
    **fields: Any,
) -> Posted:
    """Post the message of `delivery` (or of one `part` of it) unless an earlier attempt did.

    `channel` may be a user id (a direct message). Raises `LeaseLost` when, after looking,
    the delivery turns out to be another replica's now.
    """
    key = part_key(delivery, part)
    if delivery.check_first:
        found = find(slack, channel, key, delivery, thread_ts=thread_ts)
        if found is not None:
            return found
        if not delivery.renew():
            raise LeaseLost(key)
    response = slack.chat_postMessage(
        channel=channel,
        text=text,
        thread_ts=thread_ts,
        metadata=metadata(key),
        **fields,
    )
    return Posted(str(response["channel"]), str(response["ts"]))
