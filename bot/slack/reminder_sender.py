"""Posting one claimed reminder to Slack, exactly once.

The database decides (see `bot.reminders`); this module does the Slack side: it posts with
a client that never retries on its own (a silent retry of a post that did arrive would post
twice), and before re-posting a reminder whose earlier post has an unknown outcome it looks
for that post's key in the channel's recent history.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import reminders as render
from bot.reminders import claims
from bot.reminders.claims import Claimed, Outgoing
from bot.reminders.policy import ReminderPolicy
from storage import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

HISTORY_PAGES = 5
HISTORY_SLACK = timedelta(seconds=5)  # look a little before the first attempt


class Outcome(StrEnum):
    """What happened to one claimed reminder."""

    SENT = "sent"
    FOUND = "found"  # an earlier post of it was found in the channel: recorded, not re-posted
    SKIPPED = "skipped"  # no longer due (update, snooze, resolve) or lease lost
    FAILED = "failed"  # kept, to be retried after a back-off


def reminder_client(slack: WebClient, *, lease: timedelta) -> WebClient:
    """A client like `slack` whose calls end well within the lease, with no silent retries."""
    return WebClient(
        token=slack.token,
        base_url=slack.base_url,
        timeout=max(1, min(10, int(lease.total_seconds() / 3))),
        retry_handlers=[],
    )


def _not_posted(exc: SlackApiError) -> bool:
    """True when Slack's answer proves the message was not posted (a refusal, a rate limit)."""
    return exc.response.status_code in (200, 429)


def _retry_after(exc: SlackApiError) -> float | None:
    value = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data
        code = data.get("error") if isinstance(data, dict) else None
        status = exc.response.status_code
        http = f"HTTP {status}" if status != 200 else ""
        return "Slack answered " + " ".join(x for x in (http, code and f"`{code}`") if x)
    return f"{type(exc).__name__}: {exc}"


class ReminderSender:
    """Sends claimed reminders for one owner (one replica's ticker)."""

    def __init__(
        self,
        db: Database,
        slack: WebClient,
        *,
        owner: str,
        policy: ReminderPolicy,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.slack = slack
        self.owner = owner
        self.policy = policy
        self.clock = clock

    def send(self, claimed: Claimed) -> Outcome:
        """Check, post and record one claimed reminder."""
        with self.db.session() as session:
            out = claims.prepare(
                session, claimed=claimed, owner=self.owner, policy=self.policy, now=self.clock()
            )
        if out is None:
            return Outcome.SKIPPED
        posting = False
        try:
            if out.check_first:
                found = self._find(out)
                if found is not None:
                    posted_at = datetime.fromtimestamp(float(found), UTC)
                    self._record(out, found, sent_at=posted_at)
                    return Outcome.FOUND
                with self.db.session() as session:
                    if not claims.renew(
                        session,
                        reminder_id=out.reminder_id,
                        owner=self.owner,
                        policy=self.policy,
                        now=self.clock(),
                    ):
                        return Outcome.SKIPPED
            posting = True
            ts = self._post(out)
        except Exception as exc:
            not_posted = posting and isinstance(exc, SlackApiError) and _not_posted(exc)
            retry_after = _retry_after(exc) if isinstance(exc, SlackApiError) else None
            log.warning(
                "reminder %s of incident #%s not sent (%s); it will be retried",
                out.kind,
                out.number,
                _describe(exc),
            )
            with self.db.session() as session:
                claims.record_failure(
                    session,
                    reminder_id=out.reminder_id,
                    owner=self.owner,
                    error=_describe(exc),
                    not_posted=not_posted,
                    retry_after=retry_after,
                    now=self.clock(),
                )
            return Outcome.FAILED
        self._record(out, ts)
        return Outcome.SENT

    def _record(self, out: Outgoing, ts: str | None, *, sent_at: datetime | None = None) -> None:
        with self.db.session() as session:
            claims.record_sent(
                session,
                outgoing=out,
                owner=self.owner,
                message_ts=ts,
                policy=self.policy,
                now=self.clock(),
                sent_at=sent_at,
            )

    def _post(self, out: Outgoing) -> str | None:
        now = self.clock()
        response = self.slack.chat_postMessage(
            channel=out.channel_id,
            text=render.reminder_text(out, now=now),
            blocks=render.reminder_blocks(out, now=now, nudge_max=self.policy.nudge_max),
            unfurl_links=False,
        )
        ts = response.get("ts")
        return str(ts) if ts else None

    def _find(self, out: Outgoing) -> str | None:
        """The ts of an earlier post of this reminder in its channel, if it got there."""
        oldest = (out.pending_since - HISTORY_SLACK).timestamp()
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            kwargs: dict[str, Any] = {"channel": out.channel_id, "oldest": f"{oldest:.6f}"}
            if cursor:
                kwargs["cursor"] = cursor
            page = self.slack.conversations_history(limit=200, **kwargs)
            for message in page.get("messages") or []:
                if render.key_of(message) == out.key:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None
