"""Intake's upkeep: take over what a dead process left, renew leases, trim (web/intake.py).

`sweep` (every few seconds, and at start) moves what journals hold into the inbox (SQLite
over HTTP, web/journal.py), then takes over rows whose lease ran out (a replica crashed or
was killed) and processes them again: rows not yet applied from the start, rows already
applied only when their listener can resume what followed (the declare form: the incident's
channel and card); the others are marked processed, their writes being done. `renew`
extends the leases of the rows this replica is processing; `trim` deletes processed rows
after the retention.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from apscheduler.schedulers.base import BaseScheduler
from slack_bolt import BoltRequest, BoltResponse
from sqlalchemy import Connection

from bot.core import inbox
from storage import Database
from storage.db import WRITE_FENCE
from storage.types import utcnow
from web.intake_work import Work
from web.slack_request import body_of, bolt_request

if TYPE_CHECKING:
    from web.journal import Journal

log = logging.getLogger(__name__)

REPLAY = "incident_bot_replay"  # Bolt context: this request is processed again, from the inbox
RESUMED = "incident_bot_resumed"  # ... and its writes were already committed (resume the rest)
SWEEP_BATCH = 50
TRIM_EVERY = timedelta(hours=1)

Resumable = Callable[[dict[str, Any]], bool]


class Upkeep:
    """What `Intake` does on the scheduler's ticks (mixed into it: the state is Intake's)."""

    db: Database
    owner: str
    lease: timedelta
    retention: timedelta
    resumable: Resumable
    journal: Journal | None
    _lock: threading.Lock
    _active: dict[int, Work]

    if TYPE_CHECKING:  # Intake's

        def work_of(self, row_id: int) -> Work: ...

        def finished(self, work: Work, error: str | None = None) -> None: ...

        def dispatch(
            self, work: Work, request: BoltRequest, *, urgent: bool = False
        ) -> BoltResponse: ...

    # -- taking over ----------------------------------------------------------------------

    def sweep(self) -> int:
        """Process again the rows whose lease ran out; returns how many were taken."""
        if self.journal is not None:
            self.recover_journal(self.journal)
        with self.db.session() as session:
            rows = inbox.claim(
                session, owner=self.owner, lease=self.lease, now=utcnow(), limit=SWEEP_BATCH
            )
        for row in rows:
            try:
                self._replay(row)
            except Exception as exc:
                log.error("could not process inbox request %s again: %s", row.id, exc)
        return len(rows)

    def recover_journal(self, journal: Journal) -> int:
        """Move into the inbox what journals hold that is not there (web/journal.py), leased
        to nobody: the sweep processes it next. Returns how many lines were new."""
        new = 0
        for found in journal.recover():
            rows = [kept.row(self.owner) for kept in found.lines]

            def keep(
                conn: Connection, rows: list[tuple[str, str, str, str, str, str]] = rows
            ) -> list[int | None]:
                # (leased to nobody: this sweep claims them next)
                return inbox.record_many(conn, rows, lease=timedelta(seconds=-1), now=utcnow())

            token = WRITE_FENCE.set(None)
            try:
                kept = self.db.one_statement(keep)
            except Exception as exc:  # tried again at the next sweep
                found.settle(False)
                log.error("could not move %s journal lines into the inbox: %s", len(rows), exc)
                continue
            finally:
                WRITE_FENCE.reset(token)
            found.settle(True)
            added = sum(1 for row_id in kept if row_id is not None)
            new += added
            log.info("moved %s lines of %s into the inbox (%s new)", len(rows), found.path, added)
        return new

    def _replay(self, row: inbox.Claimed) -> None:
        with self._lock:
            if row.id in self._active:  # ours, slow: its lease ran out, it goes on here
                return
        body = body_of(row.body, row.content_type)  # (Socket Mode's rows are JSON)
        if row.attempts > inbox.MAX_ATTEMPTS:
            log.error(
                "giving up inbox request %s (%s) after %s attempts", row.id, row.kind, row.attempts
            )
            self.finished(self.work_of(row.id), error=f"gave up after {row.attempts - 1} attempts")
            return
        if row.applied and not self.resumable(body):
            log.info("inbox request %s (%s) was applied; nothing to resume", row.id, row.kind)
            self.finished(self.work_of(row.id))
            return
        log.info(
            "processing inbox request %s (%s) again%s",
            row.id,
            row.kind,
            ", resuming after its writes" if row.applied else "",
        )
        context = {REPLAY: True, RESUMED: row.applied}
        request = bolt_request(body, row.content_type, context)
        self.dispatch(self.work_of(row.id), request)

    def renew(self) -> None:
        """Extend the leases of the rows this replica is processing."""
        with self._lock:
            ids = list(self._active)
        if not ids:
            return
        token = WRITE_FENCE.set(None)
        try:
            with self.db.session() as session:
                held = inbox.renew(
                    session, row_ids=ids, owner=self.owner, lease=self.lease, now=utcnow()
                )
        finally:
            WRITE_FENCE.reset(token)
        for lost in set(ids) - held:
            with self._lock:
                still_running = lost in self._active
            if still_running:
                log.warning("lost the lease on inbox request %s; another replica has it", lost)

    def trim(self) -> int:
        """Delete processed rows older than the retention."""
        before = utcnow() - self.retention
        total = 0
        while True:
            with self.db.session() as session:
                deleted = inbox.trim(session, before=before)
            total += deleted
            if deleted < 1000:
                break
        if total:
            log.info("deleted %s processed inbox requests older than %s", total, before)
        return total

    def schedule(self, scheduler: BaseScheduler) -> None:
        """Sweep at start and every few seconds; renew leases; trim hourly."""
        lease = self.lease.total_seconds()
        sweep_every = max(1.0, min(5.0, lease / 3))
        scheduler.add_job(
            self.sweep,
            "interval",
            seconds=sweep_every,
            id="inbox-sweep",
            next_run_time=utcnow(),
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            self.renew,
            "interval",
            seconds=max(0.5, lease / 3),
            id="inbox-renew",
            coalesce=True,
            max_instances=1,
        )
        scheduler.add_job(
            self.trim,
            "interval",
            seconds=TRIM_EVERY.total_seconds(),
            id="inbox-trim",
            next_run_time=utcnow() + timedelta(minutes=1),
            coalesce=True,
            max_instances=1,
        )
