"""Delivering the outbox: at once after a commit, on every tick, after a crash, on any replica.

`Services.apply` writes a change's deliveries in its own transaction (`bot.outbox.enqueue`)
and then calls `Outbox.kick`: this replica's dispatcher thread wakes, claims every due and
ready delivery (what makes a channel usable first, then the longest due: see
`bot.outbox.claims`) and hands each to a pool of sender threads, so the request that made
the change never waits for Slack, and deliveries
that do not depend on one another (the steps of a setup once the channel exists) go out at
once. When one finishes, the dispatcher looks again: deliveries that waited for it (the next
in its lane, everything that needs the channel) go out next. The scheduler's tick wakes the
dispatcher too, so deliveries a dead replica had claimed are taken over once their lease runs
out; while this replica holds deliveries (claimed, queued or in flight) it keeps their leases
alive. A failed attempt is retried after the engine's back-off (`bot.core.delivery`): the
dispatcher sleeps until the next delivery falls due.

`send` is the source's send function: it calls the subscriber with the event and its
`Delivery`, and sorts what went wrong under the engine's failure rules.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import func, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import col, select

from bot import outbox
from bot.core import logcontext
from bot.core.delivery import Claimed, Delivered, Failure, Job, NotReady, Receipt
from bot.core.errors import DomainError
from bot.core.events import Delivery
from bot.outbox.claims import OutboxItem, OutboxPolicy, OutboxSource
from bot.slack.delivery import Runner, classify, delivery_client, replica_id
from bot.slack.keyed import LeaseLost, PartFailed
from storage.models_outbox import OutboxDelivery
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.slack.services import Services

log = logging.getLogger(__name__)

SEND_THREADS = 16  # deliveries in flight at once per replica (Slack's answers are awaited)
QUEUE_PER_THREAD = 2  # claimed ahead of the threads, so a finished one starts the next at once
COUNTS_EVERY = 60.0  # seconds between two log lines of the outbox's counts
RECONCILE_EVERY = 60.0
OVERDUE_AFTER = timedelta(minutes=2)
NETWORK_ERRORS = (OSError, http.client.HTTPException)  # timeouts, refused, reset, bad answers


class Outbox:
    """One replica's deliveries of the outbox."""

    def __init__(
        self,
        services: Services,
        *,
        owner: str | None = None,
        clock: Callable[[], datetime] = utcnow,
        threads: int = SEND_THREADS,
    ) -> None:
        self.services = services
        self.owner = owner or replica_id()
        self.clock = clock
        self.threads = threads
        settings = services.settings
        self.policy = OutboxPolicy(lease=timedelta(seconds=settings.reminder_lease_seconds))
        self.source = OutboxSource(self.policy, services.events)
        self.runner = Runner(
            services.db,
            self.source,
            self.send,
            owner=self.owner,
            clock=clock,
            observe=services.observe_delivery,
        )
        self.tick_every = float(settings.scheduler_tick_seconds)
        self._pool: ThreadPoolExecutor | None = None
        self._dispatcher: threading.Thread | None = None
        self._wanted = threading.Event()
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._held: dict[int, Future[None] | None] = {}  # claimed, not finished
        self._started_rows: set[int] = set()
        self._last_counts = 0.0
        self._last_reconcile: float | None = None
        # Set by a front whose processing worker delivers for it (web/handoff.py): returns how
        # to tell the worker of new deliveries, or None when this engine delivers them itself.
        self.handed_to: Callable[[], Callable[[], None] | None] = lambda: None

    # -- the client every subscriber uses ------------------------------------------------

    def client(self) -> WebClient:
        """A Slack client for deliveries: no silent retries (the engine retries, after
        looking for an earlier attempt), calls that end well within the lease."""
        return delivery_client(self.services.slack, lease=self.policy.lease)

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """True between `start` and `stop`."""
        return self._dispatcher is not None and not self._stopping.is_set()

    def start(self) -> None:
        """Start the sender threads and the dispatcher (which looks for due rows at once)."""
        if self._dispatcher is not None:
            return
        self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="outbox")
        self._dispatcher = threading.Thread(
            target=self._dispatch_loop, name="outbox-dispatcher", daemon=True
        )
        self._dispatcher.start()
        self._wanted.set()

    def stop(self) -> None:
        """Finish the deliveries in flight; give the queued ones back at once."""
        if self._dispatcher is None:
            return
        self._stopping.set()
        self._wanted.set()
        self._dispatcher.join(timeout=30)
        assert self._pool is not None
        self._pool.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            unstarted = [row for row in self._held if row not in self._started_rows]
            self._held.clear()
        if unstarted:
            with self.services.db.session() as session:
                session.execute(
                    update(OutboxDelivery)
                    .where(
                        col(OutboxDelivery.id).in_(unstarted),
                        col(OutboxDelivery.lease_owner) == self.owner,
                    )
                    .values(lease_owner=None, lease_until=None)
                )

    def kick(self) -> None:
        """New deliveries were committed: claim and send them now (off the caller's thread),
        or have the processing worker do it."""
        tell = self.handed_to()
        if tell is not None:
            tell()
            return
        self._wanted.set()

    # -- the dispatcher -------------------------------------------------------------------

    def _dispatch_loop(self) -> None:
        renew_every = self.policy.lease.total_seconds() / 3
        last_renew = time.monotonic()
        timeout = 0.0
        while not self._stopping.is_set():
            self._wanted.wait(timeout)
            self._wanted.clear()
            if self._stopping.is_set():
                return
            try:
                if time.monotonic() - last_renew >= renew_every:
                    self._renew_held()
                    last_renew = time.monotonic()
                self._dispatch()
                timeout = min(self._until_next_due(), self.tick_every, renew_every)
            except Exception:
                log.exception("outbox dispatch failed; trying again shortly")
                timeout = min(self.tick_every, renew_every)

    def _room(self) -> int:
        with self._lock:
            return self.threads * QUEUE_PER_THREAD - len(self._held)

    def _dispatch(self) -> None:
        assert self._pool is not None
        if self.handed_to() is not None:  # the processing worker delivers
            return
        while (room := self._room()) > 0 and not self._stopping.is_set():
            claimed = self.runner.claim(limit=room)
            if not claimed:
                return
            with self._lock:
                for c in claimed:
                    self._held[c.row_id] = None
            for c in claimed:
                future = self._pool.submit(self._run, c)
                with self._lock:
                    if c.row_id in self._held:
                        self._held[c.row_id] = future
            if len(claimed) < room:
                return

    def _run(self, claimed: Claimed) -> None:
        with self._lock:
            self._started_rows.add(claimed.row_id)
        try:
            self.runner.send(claimed)
        except Exception:  # the database went away: the lease runs out, another try later
            log.exception("outbox delivery %s failed", claimed.row_id)
        finally:
            with self._lock:
                self._held.pop(claimed.row_id, None)
                self._started_rows.discard(claimed.row_id)
            self._wanted.set()  # what waited for this one may go now

    def _renew_held(self) -> None:
        with self._lock:
            held = list(self._held)
        if not held:
            return
        now = self.clock()
        with self.services.db.session() as session:
            session.execute(
                update(OutboxDelivery)
                .where(
                    col(OutboxDelivery.id).in_(held),
                    col(OutboxDelivery.lease_owner) == self.owner,
                    col(OutboxDelivery.delivered_at).is_(None),
                )
                .values(lease_until=now + self.policy.lease)
            )

    def _until_next_due(self) -> float:
        now = self.clock()
        with self.services.db.read() as session:
            due = session.exec(
                select(func.min(OutboxDelivery.due_at)).where(col(OutboxDelivery.due_at) > now)
            ).one()
        return (due - now).total_seconds() if due is not None else float("inf")

    # -- synchronous delivery (tests, tools) ----------------------------------------------

    def drain(self, *, rounds: int = 100) -> dict[str, int]:
        """Deliver every due and ready delivery in this thread, until none is left; returns
        what happened to them."""
        outcomes: dict[str, int] = {}
        for _ in range(rounds):
            claimed = self.runner.claim()
            if not claimed:
                break
            for c in claimed:
                outcome = self.runner.send(c)
                outcomes[outcome.value] = outcomes.get(outcome.value, 0) + 1
        return outcomes

    # -- the scheduler's jobs -------------------------------------------------------------

    def safe_tick(self) -> None:
        """The scheduled job: wake the dispatcher (rows a dead replica left, retries that fell
        due), give interrupted setups their deliveries, log the counts now and then."""
        try:
            self._wanted.set()
            now = time.monotonic()
            if self._last_reconcile is None or now - self._last_reconcile >= RECONCILE_EVERY:
                self._last_reconcile = now
                with self.services.db.session() as session:
                    fixed = outbox.reconcile_setup(session, self.services.events)
                if fixed:
                    log.info("outbox: %s interrupted setups given their deliveries", fixed)
                    self._wanted.set()
            if now - self._last_counts >= COUNTS_EVERY:
                self._last_counts = now
                self.log_counts()
        except Exception:
            log.exception("outbox tick failed; the next tick tries again")

    def log_counts(self) -> outbox.Counts:
        """Log how many deliveries are pending, overdue and given up."""
        with self.services.db.read() as session:
            counts = outbox.counts(session, now=self.clock(), late=OVERDUE_AFTER)
        level = logging.WARNING if counts.failed or counts.overdue else logging.INFO
        log.log(
            level,
            "outbox: %s pending (%s for over %s), %s given up",
            counts.pending,
            counts.overdue,
            OVERDUE_AFTER,
            counts.failed,
        )
        return counts

    def safe_trim(self) -> None:
        """The scheduled job: delete deliveries done more than OUTBOX_RETENTION_DAYS ago."""
        days = self.services.settings.outbox_retention_days
        before = self.clock() - timedelta(days=days)
        try:
            total = 0
            while True:
                with self.services.db.session() as session:
                    trimmed = outbox.trim(session, before=before)
                total += trimmed
                if trimmed < outbox.TRIM_BATCH:
                    break
            if total:
                log.info("outbox: %s deliveries older than %s days trimmed", total, days)
        except Exception:
            log.exception("outbox trim failed; the next run tries again")

    # -- the send function ----------------------------------------------------------------

    def send(
        self, job: Job[OutboxItem], clock: Callable[[], datetime], renew: Callable[[], bool]
    ) -> Receipt | Failure | None:
        """Call the subscriber with the event; its failure sorted under the engine's rules."""
        item = job.item
        subscription = self.services.events.subscription(item.subscriber)
        assert subscription is not None, "load checked it"
        delivery = Delivery(
            key=item.key, check_first=item.check_first, since=item.since, renew=renew
        )
        token = logcontext.incident_id.set(item.event.incident_id)  # structured logs say which
        try:
            subscription.call(item.event, delivery)
        except LeaseLost:
            return None
        except NotReady as exc:
            return Failure(str(exc), Delivered.NO)
        except PartFailed as exc:  # another part may be out: look for it before a retry
            if isinstance(exc.cause, (SlackApiError, *NETWORK_ERRORS)):
                failure = classify(exc.cause, requested=True)
                assert failure is not None
            else:
                log.error("outbox %s: %s failed", item.key, exc.what, exc_info=exc.cause)
                failure = Failure(f"{type(exc.cause).__name__}", Delivered.MAYBE, permanent=True)
            return replace(failure, delivered=Delivered.MAYBE, what=exc.what)
        except (SlackApiError, *NETWORK_ERRORS) as exc:
            failure = classify(exc, requested=True)
            assert failure is not None
            return failure
        except DomainError as exc:  # what the subscriber was asked cannot be done
            return Failure(str(exc), Delivered.NO, permanent=True)
        except SQLAlchemyError as exc:
            log.warning("outbox %s: the database failed: %s", item.key, exc)
            return Failure(f"database error: {type(exc).__name__}", Delivered.MAYBE)
        except Exception as exc:  # a bug: retrying will not fix it; shown to admins
            log.exception("outbox %s: subscriber %s failed", item.key, item.subscriber)
            return Failure(f"{type(exc).__name__}: {exc}", Delivered.MAYBE, permanent=True)
        finally:
            logcontext.incident_id.reset(token)
        return Receipt(clock(), destination=item.subscriber, reference=None)
