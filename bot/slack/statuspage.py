"""The status page's background work in each replica: maintenance on time, subscriber mail.

`StatusPageJobs.tick()` starts and completes scheduled maintenance that is due by its clock
(replaceable in tests), then sends due subscriber mails: the `status_mail` table is a source
of the delivery engine (bot.statuspage.mail_claims) and its send function is the one e-mail
channel the stakeholder notices use (bot.outbound.notice_mail.MailChannel). The scheduler
runs it every SCHEDULER_TICK_SECONDS, at the exact moment the next maintenance starts or
ends, and right after this process committed a change (a new subscription or public update).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from apscheduler.schedulers.base import BaseScheduler
from sqlmodel import Session

from bot.incidents import IncidentView
from bot.outbound.notice_mail import MailChannel, SubscriberMailSend
from bot.slack.delivery import Runner
from bot.statuspage import maintenance, publish, state
from bot.statuspage.config import PageConfig
from bot.statuspage.mail_claims import MailConfig, StatusMailSource
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)

TICK_JOB = "statuspage-tick"


def attach(services: Services, session: Session, view: IncidentView) -> IncidentView:
    """The view with whether the incident is on the status page (and its public link)."""
    config = services.settings.status_page
    if config is None or view.incident.id is None:
        return view
    row = publish.public_of(session, incident_id=view.incident.id)
    url = publish.incident_url(config, row) if row is not None else None
    return replace(view, status_page_enabled=True, public_url=url)


class StatusPageJobs:
    """Maintenance transitions and subscriber mail for one replica."""

    def __init__(
        self,
        services: Services,
        config: PageConfig,
        *,
        owner: str,
        clock: Callable[[], datetime] = utcnow,
        mail: MailChannel | None = None,
    ) -> None:
        self.services = services
        self.config = config
        self.owner = owner
        self._clock = clock
        self.mail = mail or MailChannel(services.settings)
        lease = timedelta(seconds=services.settings.notice_lease_seconds)
        self.mails = Runner(
            services.db,
            StatusMailSource(MailConfig(lease=lease, page=config)),
            SubscriberMailSend(self.mail),
            owner=owner,
            clock=clock,
        )
        self.scheduler: BaseScheduler | None = None
        self.unlisten: Callable[[], None] | None = None
        self._lock = threading.Lock()

    @property
    def clock(self) -> Callable[[], datetime]:
        """The clock maintenance and mail run by (tests replace it)."""
        return self._clock

    @clock.setter
    def clock(self, value: Callable[[], datetime]) -> None:
        self._clock = value
        self.mails.clock = value

    def tick(self) -> None:
        """Advance maintenance by the clock, then send due mails."""
        with self._lock:
            with self.services.db.session() as session:
                maintenance.advance(session, now=self.clock())
            if self.mail.configured:
                self.mails.tick()
            with self.services.db.read() as session:
                due = maintenance.next_due(session)
        self._plan(due)

    def safe_tick(self) -> None:
        """tick(), logging instead of raising (a scheduler job)."""
        try:
            self.tick()
        except Exception:
            log.exception("status page tick failed")

    def _plan(self, due: datetime | None) -> None:
        scheduler = self.scheduler
        if scheduler is None or due is None or not scheduler.running:
            return
        now = self.clock()
        tick = timedelta(seconds=self.services.settings.scheduler_tick_seconds)
        if due - now >= tick:
            return
        # On the real clock, wake when the next start or end falls due (not a tick later).
        run_at = utcnow() + max(due - now, timedelta(0))
        scheduler.add_job(
            self.safe_tick,
            "date",
            run_date=run_at,
            id=f"{TICK_JOB}-{uuid.uuid4().hex[:8]}",
            misfire_grace_time=None,
        )

    def stop(self) -> None:
        """Stop reacting to this process's changes."""
        if self.unlisten is not None:
            self.unlisten()

    def kick(self) -> None:
        """Run a tick soon (something was committed in this process)."""
        scheduler = self.scheduler
        if scheduler is not None and scheduler.running:
            scheduler.add_job(
                self.safe_tick, "date", run_date=utcnow(), id=f"{TICK_JOB}-{uuid.uuid4().hex[:8]}"
            )


def schedule(scheduler: BaseScheduler, services: Services, *, owner: str) -> StatusPageJobs | None:
    """Add the status page tick to `scheduler` when the status page is on."""
    config = services.settings.status_page
    if config is None:
        return None
    notices = services.notices  # the one e-mail channel, when the notice loop runs
    jobs = StatusPageJobs(
        services, config, owner=owner, mail=notices.mail if notices is not None else None
    )
    jobs.scheduler = scheduler
    scheduler.add_job(
        jobs.safe_tick,
        "interval",
        seconds=services.settings.scheduler_tick_seconds,
        id=TICK_JOB,
        next_run_time=utcnow(),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    jobs.unlisten = state.on_change(jobs.kick)
    services.status_page_jobs = jobs
    return jobs
