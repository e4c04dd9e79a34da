"""Sending planned stakeholder notices with the delivery engine, on every replica.

`stakeholder_notice` is a source of the engine (`bot.stakeholders.claims.NoticeSource`); the
engine leases due rows to one replica, fixes the attempt's key before the side effect and
records the outcome under its failure rules. This module is the source's send function: it
hands each notice to the sender of its channel (e-mail, SMS, webhook and Mastodon in
bot/outbound, Slack DMs and invitations in `bot.slack.notices`), which raises Retryable or
Permanent, and turns that into the engine's Receipt or Failure. A notice to a Slack user
group becomes one notice per member first. Nothing here runs on a Slack request: an
unreachable mail server or SMS provider only ever holds a scheduler thread.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk import WebClient

from bot.core import slack_text
from bot.core.delivery import Delivered, Failure, Job, Receipt
from bot.core.events import Event
from bot.core.sending import Permanent, Sender, SendError
from bot.outbound.mastodon import MastodonSender
from bot.outbound.notice_mail import MailChannel, NoticeMailSender
from bot.outbound.sms import SmsSender, provider_from
from bot.outbound.webhook import WebhookSender
from bot.slack.delivery import Runner, delivery_client
from bot.slack.notices import SlackNoticeSender, is_user_group
from bot.slack.paging import EscalationSender
from bot.slack.services import Services
from bot.slack.social import SocialPreviewSender
from bot.stakeholders import claims
from bot.stakeholders.claims import NoticeConfig, NoticeSource
from bot.stakeholders.notice import Notice
from storage import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

SEND_THREADS = 4
NAME_CACHE_SECONDS = 600.0


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


class NoticeSend:
    """The send function of the notices source: one notice, one sender, one outcome."""

    def __init__(
        self,
        db: Database,
        senders: dict[str, Sender[Notice]],
        slack: SlackNoticeSender,
        names: Callable[[str], str | None],
    ) -> None:
        self.db = db
        self.senders = senders
        self.slack = slack
        self.names = names

    def __call__(
        self, job: Job[Notice], clock: Callable[[], datetime], renew: Callable[[], bool]
    ) -> Receipt | Failure | None:
        notice = job.item
        try:
            if notice.channel in ("slack", "invite") and is_user_group(notice.recipient):
                return self._expand(notice, clock)
            sender = self.senders.get(notice.channel)
            if sender is None:
                raise Permanent(f"no sender for {notice.channel}")
            notice = self.readable(notice)
            if not renew():  # the look-ups took long and another replica has it now
                return None
            reference = sender.send(notice)
        except SendError as exc:
            maybe = Delivered.MAYBE if exc.maybe_sent else Delivered.NO
            return Failure(
                str(exc), maybe, permanent=not exc.retryable, retry_after=exc.retry_after
            )
        return Receipt(clock(), notice.recipient[:200], reference or self._reference(notice))

    def _expand(self, notice: Notice, clock: Callable[[], datetime]) -> Receipt:
        users = self.slack.members(notice.recipient)
        with self.db.session() as session:
            claims.add_members(session, parent_id=notice.id, users=users, now=clock())
        return Receipt(clock(), notice.recipient, f"expanded to {len(set(users))} members")

    def readable(self, notice: Notice) -> Notice:
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
        mail = self.senders.get("email")
        if notice.channel == "email" and isinstance(mail, NoticeMailSender):
            return mail.mail_for(notice).message_id
        return None


class NoticeRunner:
    """One replica's notice loop: the engine's runner for the notices source."""

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
        self.scheduler = scheduler
        self.lease = timedelta(seconds=settings.notice_lease_seconds)
        slack = delivery_client(services.slack, lease=self.lease)
        self.slack = SlackNoticeSender(slack)
        self.mail = MailChannel(settings)  # the one e-mail channel (subscriber mails too)
        all_senders: dict[str, Sender[Notice]] = {
            "slack": self.slack,
            "invite": self.slack,
            "email": NoticeMailSender(settings, self.mail),
            "sms": SmsSender(provider_from(settings)),
            "webhook": WebhookSender(settings.webhooks),
            "mastodon": MastodonSender(settings.mastodon_api_url, settings.mastodon_access_token),
            "preview": SocialPreviewSender(services.db, slack),
            "escalation": EscalationSender(slack, services.db, services.directory),
        }
        all_senders.update(senders or {})
        self.send = NoticeSend(services.db, all_senders, self.slack, Names(slack))
        self.runner = Runner(
            services.db,
            NoticeSource(NoticeConfig(lease=self.lease)),
            self.send,
            owner=owner,
            clock=clock,
            threads=SEND_THREADS,
            observe=services.observe_delivery,
        )

    def tick(self) -> Counter[str]:
        """Send every due notice; what happened to each (sent, failed: retried, gave_up)."""
        return self.runner.tick()

    def safe_tick(self) -> None:
        """The scheduled job: a failing tick (database down) is logged and tried again."""
        self.runner.safe_tick()

    def wake(self) -> None:
        """Run a tick now (a change or a request planned notices), not at the next interval."""
        if self.scheduler is None or not self.scheduler.running:
            return
        self.scheduler.add_job(
            self.safe_tick,
            "date",
            run_date=utcnow(),
            id=f"notices-wakeup-{uuid.uuid4().hex[:8]}",
            misfire_grace_time=None,
        )

    def on_event(self, event: Event) -> None:
        """Event-bus subscriber: a committed change may have planned notices."""
        self.wake()
