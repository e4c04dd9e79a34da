"""Periodic jobs driven by APScheduler; the database decides who sends what.

Every replica runs the same ticks of the delivery engine (`bot.slack.delivery`): claim due
items (an atomic conditional UPDATE gives each to one replica) and send them. The outbox's
tick wakes its dispatcher (`bot.slack.outbox`), and an hourly job trims delivered rows. The reminder
tick also re-plans incidents whose events were lost, and if the next reminder falls due
before the next tick, wakes up exactly then. APScheduler only drives the ticking: its job
store is in memory and never shared (one store cannot be shared between processes).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED, BaseScheduler

from bot import reminders
from bot.core.events import IncidentEvent
from bot.reminders import claims
from bot.reminders.claims import ReminderSource
from bot.reminders.policy import ReminderPolicy
from bot.slack import reminder_sender
from bot.slack.delivery import Runner, delivery_client, replica_id
from bot.slack.followup_sender import FollowUpTicker
from bot.slack.services import Services
from storage.types import utcnow

log = logging.getLogger(__name__)

TICK_JOB = "reminders-tick"
FOLLOWUPS_JOB = "followups-tick"
OUTBOX_JOB = "outbox-tick"
OUTBOX_TRIM_JOB = "outbox-trim"
OUTBOX_TRIM_EVERY = timedelta(hours=1)
NOTICES_JOB = "notices-tick"
DRILLS_JOB = "drills-tick"
WAKEUP_JOB = "reminders-wakeup"
RECONCILE_EVERY = timedelta(seconds=60)
RECONCILE_BATCH = 500
RECONCILE_ROUNDS = 100  # at most 50,000 incidents re-planned in one tick; the rest next time
SEND_THREADS = 8


@dataclass
class TickReport:
    """What one tick did, for logs and the benchmark."""

    started: datetime
    seconds: float = 0.0
    reconciled: int | None = None
    claimed: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    next_due: datetime | None = None


class ReminderTicker:
    """One replica's reminder loop."""

    def __init__(
        self,
        services: Services,
        *,
        scheduler: BaseScheduler | None = None,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        policy: ReminderPolicy | None = None,
    ) -> None:
        self.services = services
        self.scheduler = scheduler
        self.owner = owner or replica_id()
        self.clock = clock
        self.policy = policy or ReminderPolicy.from_settings(services.settings)
        self.tick_every = timedelta(seconds=services.settings.scheduler_tick_seconds)
        slack = delivery_client(services.slack, lease=self.policy.lease)
        self.sender = Runner(
            services.db,
            ReminderSource(self.policy),
            reminder_sender.post(slack, self.policy),
            owner=self.owner,
            clock=clock,
            threads=SEND_THREADS,
            observe=services.observe_delivery,
        )
        self._last_reconcile: float | None = None
        self._wakeup_at: datetime | None = None
        self._lock = threading.Lock()
        self.on_report: Callable[[TickReport], None] | None = None

    def tick(self) -> TickReport:
        """Reconcile now and then, send every due reminder, plan the next wake-up."""
        started = time.perf_counter()
        report = TickReport(started=self.clock())
        db = self.services.db
        if self._reconcile_due():
            report.reconciled = 0
            for _ in range(RECONCILE_ROUNDS):  # after an upgrade every open incident needs rows
                with db.session() as session:
                    fixed = reminders.reconcile(
                        session, policy=self.policy, now=self.clock(), limit=RECONCILE_BATCH
                    )
                report.reconciled += fixed
                if fixed < RECONCILE_BATCH:
                    break
        report.outcomes = self.sender.drain()
        report.claimed = sum(report.outcomes.values())
        with db.read() as session:
            report.next_due = claims.next_due(session, now=self.clock())
        self._plan_wakeup(report.next_due)
        report.seconds = time.perf_counter() - started
        if report.claimed or report.reconciled:
            log.info(
                "reminder tick: %s claimed %s, reconciled %s in %.3fs",
                dict(report.outcomes),
                report.claimed,
                report.reconciled,
                report.seconds,
            )
        if self.on_report is not None:
            self.on_report(report)
        return report

    def safe_tick(self) -> None:
        """The scheduled job: a failing tick (database down) is logged and tried again."""
        try:
            self.tick()
        except Exception:
            log.exception("reminder tick failed; the next tick tries again")

    def on_event(self, event: IncidentEvent) -> None:
        """Event-bus subscriber: wake up when a change makes a reminder due before the tick."""
        with self.services.db.read() as session:
            due = claims.next_due(session, incident_id=event.incident_id)
        self._plan_wakeup(due)

    def _reconcile_due(self) -> bool:
        with self._lock:
            now = time.monotonic()
            last = self._last_reconcile
            if last is not None and now - last < RECONCILE_EVERY.total_seconds():
                return False
            self._last_reconcile = now
            return True

    def _plan_wakeup(self, next_due: datetime | None) -> None:
        """Run a tick exactly at `next_due` when it comes before the next regular tick."""
        if self.scheduler is None or next_due is None or not self.scheduler.running:
            return
        now = self.clock()
        if next_due - now >= self.tick_every:
            return
        next_due = max(next_due, now)
        with self._lock:
            pending = self._wakeup_at
            if pending is not None and now < pending <= next_due:
                return  # an earlier wake-up is already planned; it plans the next one
            self._wakeup_at = next_due
        # A fresh id per wake-up: a finished date job is removed by the scheduler thread,
        # which must never remove the next one.
        self.scheduler.add_job(
            self.safe_tick,
            "date",
            run_date=next_due,
            id=f"{WAKEUP_JOB}-{uuid.uuid4().hex[:8]}",
            misfire_grace_time=None,
        )


class Scheduler(BackgroundScheduler):
    """APScheduler's background scheduler, stopped without a deadlock.

    Its shutdown(wait=True) waits for the running jobs while it holds the lock that
    add_job takes, so a reminder tick that plans its wake-up (`_plan_wakeup`) at that moment
    waited forever, and the process never stopped. Here the scheduler is stopped first
    (add_job then only notes the job), and the running jobs are waited for after.

    A shutdown that begins while the scheduler's thread hands a due one-off job to its
    executor made that thread die with a traceback: APScheduler then removes the job it
    handed out, and once stopped it looks for it only among jobs added while stopped
    (JobLookupError). That is the end of the thread's work anyway, so it ends quietly."""

    def shutdown(self, wait: bool = True) -> None:
        super().shutdown(wait=False)
        if wait:
            for executor in list(self._executors.values()):
                executor.shutdown(wait=True)

    def _process_jobs(self) -> float | None:
        try:
            return cast("float | None", super()._process_jobs())
        except JobLookupError:
            if self.state != STATE_STOPPED:
                raise
            return None


def _every_tick(
    scheduler: BaseScheduler, services: Services, job: str, run: Callable[[], None]
) -> None:
    scheduler.add_job(
        run,
        "interval",
        seconds=services.settings.scheduler_tick_seconds,
        id=job,
        next_run_time=utcnow(),  # at start: whatever fell due while the bot was down, once
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )


def schedule(scheduler: BaseScheduler, services: Services) -> ReminderTicker:
    """Add every periodic job to `scheduler` (not yet started); returns the reminder ticker."""
    ticker = schedule_reminders(scheduler, services)
    followups = FollowUpTicker(services, owner=ticker.owner)  # action items, post-mortems
    _every_tick(scheduler, services, FOLLOWUPS_JOB, followups.safe_tick)
    _every_tick(scheduler, services, OUTBOX_JOB, services.outbox.safe_tick)
    scheduler.add_job(
        services.outbox.safe_trim,
        "interval",
        seconds=OUTBOX_TRIM_EVERY.total_seconds(),
        id=OUTBOX_TRIM_JOB,
        next_run_time=utcnow(),
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    from bot.slack.notice_sender import NoticeRunner  # stakeholder notices (imports us)

    notices = NoticeRunner(services, owner=ticker.owner, scheduler=scheduler)
    _every_tick(scheduler, services, NOTICES_JOB, notices.safe_tick)
    services.notices = notices  # woken by bot.slack.subscribers after each change
    from bot.slack import statuspage  # the status page: maintenance on time, subscriber mail

    statuspage.schedule(scheduler, services, owner=ticker.owner)
    from bot.slack.drills import DrillTicker  # drill scenarios' steps as they fall due

    steps = DrillTicker(services, owner=ticker.owner)
    _every_tick(scheduler, services, DRILLS_JOB, steps.safe_tick)
    from bot.slack import insights  # the weekly digest (DIGEST_SCHEDULE; off by default)

    insights.schedule_digest(scheduler, services, owner=ticker.owner)
    return ticker


def hold_first_runs(scheduler: BaseScheduler, seconds: float) -> int:
    """Before `scheduler` starts: the jobs set to run at once (`next_run_time` now, to catch
    up at start) run `seconds` from now instead; the others keep their times. Returns how
    many were held.

    For the processing worker (app.serve_worker): the front ran the same jobs at its own
    start, and the worker's first seconds belong to the requests the front hands it, among
    them commands whose modal must open within 3 s of the click. Every job starting at once
    on a busy machine held those for several seconds, past the 3 s."""
    later = utcnow() + timedelta(seconds=seconds)
    held = 0
    for job in scheduler.get_jobs():  # (before the start: the jobs waiting to be added)
        first = getattr(job, "next_run_time", None)  # (set only when given at add_job)
        if first is not None and first < later:
            job.modify(next_run_time=later)
            held += 1
    return held


def schedule_reminders(scheduler: BaseScheduler, services: Services) -> ReminderTicker:
    """Add the status-update reminder tick to `scheduler`; returns its ticker."""
    ticker = ReminderTicker(services, scheduler=scheduler)
    _every_tick(scheduler, services, TICK_JOB, ticker.safe_tick)
    return ticker
