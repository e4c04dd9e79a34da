"""Sending planned stakeholder notices: one loop per replica, on the scheduler's threads.

MINIMAL STAND-IN for the generic delivery engine (bot/core/delivery.py + its Slack runner,
being built apart): when it lands, `stakeholder_notice` becomes one of its sources and this
loop and `bot.stakeholders.claims` are replaced by it. The senders it drives already speak
the engine's item interface: `send(notice) -> None`, raising Retryable or Permanent.

Each tick leases due notices (`claims.claim`), so with several replicas each notice goes to
one; a replica that dies gives its leases up when they run out, and the next one knows the
earlier attempt's outcome is unknown (Slack DMs are then looked for first; SMS is not
re-sent). Failures are retried with back-off and, after NOTICE_MAX_ATTEMPTS, kept as failed
for `/incident comms`. Nothing here runs on a Slack request: an unreachable mail server or
SMS provider only ever holds a scheduler thread.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient

from bot.core import slack_text
from bot.core.events import IncidentEvent
from bot.core.sending import Permanent, Sender, SendError
from bot.outbound.mastodon import MastodonSender
from bot.outbound.notice_mail import NoticeMailSender
from bot.outbound.sms import SmsSender, provider_from
from bot.outbound.webhook import WebhookSender
from bot.slack.notices import SlackNoticeSender, is_user_group
from bot.slack.services import Services
from bot.stakeholders import claims
from bot.stakeholders.notice import Notice
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_JOB = "notices-tick"
CLAIM_BATCH = 50
SEND_THREADS = 4
NAME_CACHE_SECONDS = 600.0


def notice_client(slack: WebClient, *, lease: timedelta) -> WebClient:
    """A client like `slack` whose calls end well within the lease, with no silent retries."""
    return WebClient(
        token=slack.token,
        base_url=slack.base_url,
        timeout=max(1, min(10, int(lease.total_seconds() / 3))),
        retry_handlers=[],
    )


class Names:
    """Display names of Slack users, looked up once in a while (best effort)."""

    def __init__(self, slack: WebClient) -> None:
        self.slack = slack
        self._cache: dict[str, tuple[float, str | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, user_id: str) -> str | None:
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(user_id)
        if cached is not None and now - cached[0] < NAME_CACHE_SECONDS:
            return cached[1]
        name: str | None = None
        try:
            user = self.slack.users_info(user=user_id)["user"]
            profile = user.get("profile") or {}
            name = profile.get("real_name") or profile.get("display_name") or user.get("name")
        except Exception as exc:  # a name is a nicety: the notice goes out without it
            log.info("no name for %s: %s", user_id, exc)
        with self._lock:
            self._cache[user_id] = (now, name)
        return name


class NoticeTicker:
    """One replica's notice loop."""

    def __init__(
        self,
        services: Services,
        *,
        owner: str,
        scheduler: BaseScheduler | None = None,
        clock: Callable[[], datetime] = utcnow,
        senders: dict[str, Sender[Notice]] | None = None,
    ) -> None:
        settings = services.settings
        self.db = services.db
        self.owner = owner
        self.scheduler = scheduler
        self.clock = clock
        self.lease = timedelta(seconds=settings.notice_lease_seconds)
        self.max_attempts = settings.notice_max_attempts
        slack = notice_client(services.slack, lease=self.lease)
        self.slack = SlackNoticeSender(slack)
        self.names = Names(slack)
        self.senders: dict[str, Sender[Notice]] = senders or {
            "slack": self.slack,
            "invite": self.slack,
            "email": NoticeMailSender(settings),
            "sms": SmsSender(provider_from(settings)),
            "webhook": WebhookSender(settings.webhooks),
            "mastodon": MastodonSender(settings.mastodon_api_url, settings.mastodon_access_token),
        }
        self.mail = self.senders.get("email")

    # -- the loop ------------------------------------------------------------------------

    def tick(self) -> Counter[str]:
        """Send every due notice; returns what happened to each."""
        outcomes: Counter[str] = Counter()
        while True:
            with self.db.session() as session:
                ids = claims.claim(
                    session,
                    owner=self.owner,
                    lease=self.lease,
                    now=self.clock(),
                    limit=CLAIM_BATCH,
                )
            if len(ids) > 1:
                with ThreadPoolExecutor(
                    min(SEND_THREADS, len(ids)), thread_name_prefix="notice"
                ) as pool:
                    outcomes.update(pool.map(self.send, ids))
            else:
                outcomes.update(map(self.send, ids))
            if len(ids) < CLAIM_BATCH:
                break
        if outcomes:
            log.info("notices: %s", dict(outcomes))
        return outcomes

    def safe_tick(self) -> None:
        """The scheduled job: a failing tick (database down) is logged and tried again."""
        try:
            self.tick()
        except Exception:
            log.exception("notice tick failed; the next tick tries again")

    def wake(self) -> None:
        """Run a tick now (after a change planned notices), not at the next interval."""
        if self.scheduler is None or not self.scheduler.running:
            return
        self.scheduler.add_job(
            self.safe_tick,
            "date",
            run_date=utcnow(),
            id=f"notices-wakeup-{uuid.uuid4().hex[:8]}",
            misfire_grace_time=None,
        )

    def on_event(self, event: IncidentEvent) -> None:
        """Event-bus subscriber: a committed change may have planned notices."""
        self.wake()

    # -- one notice ------------------------------------------------------------------------

    def send(self, notice_id: int) -> str:
        """Check, send and record one leased notice; returns the outcome."""
        with self.db.session() as session:
            notice = claims.load(session, notice_id=notice_id, owner=self.owner, now=self.clock())
        if notice is None:
            return "skipped"
        try:
            if notice.channel in ("slack", "invite") and is_user_group(notice.recipient):
                return self._expand(notice)
            sender = self.senders.get(notice.channel)
            if sender is None:
                raise Permanent(f"no sender for {notice.channel}")
            notice = self._readable(notice)
            with self.db.session() as session:
                if not claims.renew(
                    session,
                    notice_id=notice.id,
                    owner=self.owner,
                    lease=self.lease,
                    now=self.clock(),
                ):
                    return "skipped"
            sender.send(notice)
        except SendError as exc:
            return self._failed(notice, str(exc), exc.retryable, exc.retry_after)
        except Exception as exc:  # a bug, or an unexpected answer: retried, then shown
            log.exception("notice %s to %s failed", notice.id, notice.channel)
            return self._failed(notice, f"{type(exc).__name__}: {exc}", True, None)
        with self.db.session() as session:
            claims.record_sent(
                session,
                notice_id=notice.id,
                owner=self.owner,
                provider_ref=self._reference(notice),
                now=self.clock(),
            )
        return "sent"

    def _expand(self, notice: Notice) -> str:
        users = self.slack.members(notice.recipient)
        with self.db.session() as session:
            claims.expand(
                session, notice_id=notice.id, owner=self.owner, users=users, now=self.clock()
            )
        return "expanded"

    def _failed(self, notice: Notice, error: str, retryable: bool, after: float | None) -> str:
        log.warning("notice %s (%s) not sent: %s", notice.id, notice.channel, error)
        with self.db.session() as session:
            state = claims.record_failure(
                session,
                notice_id=notice.id,
                owner=self.owner,
                error=error,
                retryable=retryable,
                retry_after=after,
                max_attempts=self.max_attempts,
                now=self.clock(),
            )
        return "failed" if state == "failed" else "retry"

    def _readable(self, notice: Notice) -> Notice:
        """The payload with people's names and Slack markup turned into plain text."""
        payload: dict[str, Any] = dict(notice.payload)
        manager = payload.get("manager")
        if manager and not payload.get("manager_name"):
            payload["manager_name"] = self.names(str(manager))
        message = str(payload.get("message") or "")
        if message:
            payload["message_text"] = slack_text.render(message, user_name=self.names)
        return replace(notice, payload=payload)

    def _reference(self, notice: Notice) -> str | None:
        if notice.channel == "email" and isinstance(self.mail, NoticeMailSender):
            return self.mail.mail_for(notice).message_id
        return None


def schedule(scheduler: BaseScheduler, services: Services, *, owner: str) -> NoticeTicker:
    """Add the notice tick to `scheduler`, and wake it after every committed change."""
    ticker = NoticeTicker(services, owner=owner, scheduler=scheduler)
    scheduler.add_job(
        ticker.safe_tick,
        "interval",
        seconds=services.settings.scheduler_tick_seconds,
        id=TICK_JOB,
        next_run_time=utcnow(),  # at start: whatever fell due while the bot was down
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    services.events.subscribe("notice_wakeup", ticker.on_event)
    services.notices = ticker
    return ticker
