"""Insights in Slack: the App Home, `/incident stats` and the weekly digest.

What a person sees is filtered by bot.permissions.visibility with the private incident
channels they are in (`conversations.members`, cached briefly); the digest, posted to a
channel, counts public incidents only.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from apscheduler.schedulers.base import BaseScheduler
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from sqlmodel import Session

from blocks.insights import (
    LIST_ROWS,
    digest_blocks,
    digest_text,
    home_view,
    stats_blocks,
    stats_text,
)
from bot import library
from bot.followups.policy import FollowUpPolicy
from bot.insights import digest, figures, readiness
from bot.permissions.visibility import private_channels
from bot.reminders.policy import ReminderPolicy
from bot.slack.services import Services
from storage.types import utcnow

log = logging.getLogger(__name__)

HOME_DAYS = 30
DIGEST_DAYS = 7
DIGEST_JOB = "insights-digest"
DIGEST_TICK_SECONDS = 300


def member_channels(services: Services, user_id: str) -> frozenset[str]:
    """The private incident channels `user_id` is in."""
    with services.db.read() as session:
        channels = private_channels(session)
    if user_id in services.access.admins():
        return frozenset(channels)  # incident admins see every incident
    return services.members.channels_of(user_id, channels)


def habits(
    services: Services,
    session: Session,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    member_channels: frozenset[str],
) -> list[readiness.Habit]:
    """The readiness habits of [since, until) for someone in `member_channels`."""
    settings = services.settings
    return readiness.compute(
        session,
        since=since,
        until=until,
        now=now,
        today=FollowUpPolicy.from_settings(settings).today(now),
        member_channels=member_channels,
        status_page_configured=settings.status_page is not None,
        intervals=ReminderPolicy.from_settings(settings).intervals,
    )


def stats(services: Services, *, user_id: str, days: int) -> tuple[str, list[Block]]:
    """The `/incident stats` answer for `user_id`: (text, blocks)."""
    channels = member_channels(services, user_id)
    now = utcnow()
    since, until = figures.last_days(now, days)
    with services.db.read() as session:
        found = figures.compute(
            session, since=since, until=until, member_channels=channels, buckets=False
        )
        kept = habits(
            services, session, since=since, until=until, now=now, member_channels=channels
        )
    return stats_text(found), stats_blocks(found, kept)


def publish_home(services: Services, *, user_id: str, now: datetime | None = None) -> None:
    """Build and publish `user_id`'s Home tab."""
    now = now or utcnow()
    channels = member_channels(services, user_id)
    today = FollowUpPolicy.from_settings(services.settings).today(now)
    since, until = figures.last_days(now, HOME_DAYS)
    with services.db.read() as session:
        lists = library.home_lists(
            session, user_id=user_id, member_channels=channels, today=today, rows=LIST_ROWS
        )
        found = figures.compute(
            session, since=since, until=until, member_channels=channels, buckets=False
        )
        kept = habits(
            services, session, since=since, until=until, now=now, member_channels=channels
        )
    view = home_view(
        lists,
        found,
        now=now,
        today=today,
        console_url=services.settings.console_base_url,
        habits=kept,
    )
    services.slack.views_publish(user_id=user_id, view=view)


class DigestSender:
    """Posts the weekly digest to the broadcast channel, once per week across replicas."""

    def __init__(self, services: Services, *, owner: str) -> None:
        self.services = services
        self.owner = owner
        settings = services.settings
        self.schedule = digest.parse_schedule(
            settings.digest_schedule, timezone=settings.followup_timezone
        )

    def tick(self, now: datetime | None = None) -> str | None:
        """Post this week's digest if it is due and nobody has; returns its key if posted."""
        now = now or utcnow()
        channel = self.services.settings.incident_broadcast_channel
        if self.schedule is None or not channel:
            return None
        db = self.services.db
        with db.session() as session:
            key = digest.claim(
                session, schedule=self.schedule, channel_id=channel, owner=self.owner, now=now
            )
        if key is None:
            return None
        with db.read() as session:
            found = figures.compute(
                session, since=now - timedelta(days=DIGEST_DAYS), until=now, buckets=False
            )
        try:
            answer = self.services.slack.chat_postMessage(
                channel=channel,
                text=digest_text(found),
                blocks=digest_blocks(found, console_url=self.services.settings.console_base_url),
                unfurl_links=False,
            )
        except SlackApiError as exc:
            log.warning("weekly digest not posted: %s", exc.response.get("error"))
            with db.session() as session:
                digest.release(session, key=key)
            return None
        with db.session() as session:
            digest.record_sent(session, key=key, message_ts=answer.get("ts"), now=utcnow())
        log.info("weekly digest posted to %s", channel)
        return key

    def safe_tick(self) -> None:
        """The scheduled job: failures are logged; the next tick tries again."""
        try:
            self.tick()
        except Exception:
            log.exception("weekly digest tick failed")


def schedule_digest(
    scheduler: BaseScheduler, services: Services, *, owner: str
) -> DigestSender | None:
    """Add the digest tick when DIGEST_SCHEDULE is set (off by default)."""
    sender = DigestSender(services, owner=owner)
    if sender.schedule is None:
        return None
    scheduler.add_job(
        sender.safe_tick,
        "interval",
        seconds=DIGEST_TICK_SECONDS,
        id=DIGEST_JOB,
        next_run_time=utcnow(),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    return sender
