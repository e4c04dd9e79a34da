"""Sending owners' reminders (action items, post-mortems) exactly once, and the ticker.

Like bot.slack.reminder_sender: posts go through a client that never retries on its own, and a
reminder whose earlier post has an unknown outcome is looked for in the owner's direct
messages (by its key) before it is posted again. The ticker runs on the same scheduler, at
the same SCHEDULER_TICK_SECONDS, as the status-update reminders (see bot.slack.jobs).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import action_items as render
from bot import followups
from bot.followups import Claimed, Outgoing
from bot.followups.policy import FollowUpPolicy
from bot.slack.reminder_sender import Outcome, reminder_client
from bot.slack.services import Services
from storage import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_JOB = "followups-tick"
CLAIM_BATCH = 100
HISTORY_PAGES = 3
HISTORY_SLACK = timedelta(seconds=5)


def _describe(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        data = exc.response.data
        code = data.get("error") if isinstance(data, dict) else None
        return f"Slack answered HTTP {exc.response.status_code} {code or ''}".strip()
    return f"{type(exc).__name__}: {exc}"


def _retry_after(exc: Exception) -> float | None:
    if not isinstance(exc, SlackApiError):
        return None
    value = exc.response.headers.get("Retry-After") or exc.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


class FollowUpSender:
    """Sends claimed owners' reminders for one replica."""

    def __init__(
        self,
        db: Database,
        slack: WebClient,
        *,
        owner: str,
        policy: FollowUpPolicy,
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
            out = followups.prepare(
                session, claimed=claimed, owner=self.owner, policy=self.policy, now=self.clock()
            )
        if out is None:
            return Outcome.SKIPPED
        posting = False
        try:
            channel = str(self.slack.conversations_open(users=out.recipient)["channel"]["id"])
            if out.check_first:
                found = self._find(channel, out)
                if found is not None:
                    self._record(out, channel, found)
                    return Outcome.FOUND
                with self.db.session() as session:
                    if not followups.renew(
                        session,
                        reminder_id=out.reminder_id,
                        owner=self.owner,
                        policy=self.policy,
                        now=self.clock(),
                    ):
                        return Outcome.SKIPPED
            posting = True
            response = self.slack.chat_postMessage(
                channel=channel,
                text=render.followup_text(out),
                blocks=render.followup_blocks(out),
                unfurl_links=False,
            )
        except Exception as exc:
            # Slack's answer (a refusal, a rate limit) proves the post did not happen.
            not_posted = not posting or (
                isinstance(exc, SlackApiError) and exc.response.status_code in (200, 429)
            )
            log.warning("reminder about %s not sent (%s); retrying", out.key, _describe(exc))
            with self.db.session() as session:
                followups.record_failure(
                    session,
                    reminder_id=out.reminder_id,
                    owner=self.owner,
                    error=_describe(exc),
                    not_posted=not_posted and not out.check_first,
                    retry_after=_retry_after(exc),
                    now=self.clock(),
                )
            return Outcome.FAILED
        ts = response.get("ts")
        self._record(out, str(response.get("channel") or channel), str(ts) if ts else None)
        return Outcome.SENT

    def _record(self, out: Outgoing, channel: str, ts: str | None) -> None:
        with self.db.session() as session:
            followups.record_sent(
                session,
                outgoing=out,
                owner=self.owner,
                channel_id=channel,
                message_ts=ts,
                policy=self.policy,
                now=self.clock(),
            )

    def _find(self, channel: str, out: Outgoing) -> str | None:
        """The ts of an earlier post of this reminder in the owner's DM, if it got there."""
        oldest = (out.pending_since - HISTORY_SLACK).timestamp()
        cursor: str | None = None
        for _ in range(HISTORY_PAGES):
            kwargs: dict[str, Any] = {"channel": channel, "oldest": f"{oldest:.6f}", "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            page = self.slack.conversations_history(**kwargs)
            for message in page.get("messages") or []:
                if render.key_of(message) == out.key:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None


class FollowUpTicker:
    """One replica's loop over due owners' reminders."""

    def __init__(
        self,
        services: Services,
        *,
        owner: str,
        clock: Callable[[], datetime] = utcnow,
        policy: FollowUpPolicy | None = None,
    ) -> None:
        self.services = services
        self.owner = owner
        self.clock = clock
        self.policy = policy or FollowUpPolicy.from_settings(services.settings)
        slack = reminder_client(services.slack, lease=self.policy.lease)
        self.sender = FollowUpSender(
            services.db, slack, owner=owner, policy=self.policy, clock=clock
        )

    def tick(self) -> Counter[str]:
        """Send every due reminder; returns what happened to each."""
        outcomes: Counter[str] = Counter()
        while True:
            with self.services.db.session() as session:
                claimed = followups.claim(
                    session,
                    owner=self.owner,
                    policy=self.policy,
                    now=self.clock(),
                    limit=CLAIM_BATCH,
                )
            for one in claimed:
                outcomes[self.sender.send(one)] += 1
            if len(claimed) < CLAIM_BATCH:
                break
        if outcomes:
            log.info("owners' reminders: %s", dict(outcomes))
        return outcomes

    def safe_tick(self) -> None:
        """The scheduled job: a failing tick is logged and tried again next time."""
        try:
            self.tick()
        except Exception:
            log.exception("owners' reminder tick failed; the next tick tries again")


def schedule(scheduler: BaseScheduler, services: Services, *, owner: str) -> FollowUpTicker:
    """Add the owners' reminder tick to `scheduler`, next to the status-reminder tick."""
    ticker = FollowUpTicker(services, owner=owner)
    scheduler.add_job(
        ticker.safe_tick,
        "interval",
        seconds=services.settings.scheduler_tick_seconds,
        id=TICK_JOB,
        next_run_time=utcnow(),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return ticker
