"""Intake: keep each request from Slack in the inbox, answer, then process it from there.

HTTP (web/server.py) and Socket Mode (web/socket_mode.py) hand every command, interaction
and event here once its signature (or the WebSocket) vouched for it:

1. It is kept in the inbox (bot/core/inbox.py), leased to this replica: an event, a slash
   command, a button press or a shortcut (`answered_at_once`: their answer is always an
   empty 200) in one short transaction before it is answered (`store`, requests arriving
   together in one commit); a form submission by the first write transaction of its
   listener, or when the listener acknowledges, whichever comes first (`accept`). A second
   delivery of the same request finds its key taken and is not processed again.
2. Bolt runs the listener (`dispatch`): after the answer for the first kind; for a form,
   Slack gets its answer when the listener acknowledges, which listeners do only once what
   the request asked for is committed or kept (the declare form is kept, then records the
   incident: a kept row not applied yet is run again from the start by the sweep). The
   first write transaction of the processing is fenced by the row's lease and marks the
   row applied in that transaction.
3. When the listener and all work it deferred are done, the row is marked processed.

What the scheduler runs (taking over what a dead process left, leases, trimming) is in
web/intake_upkeep.py.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import timedelta
from typing import TYPE_CHECKING

from slack_bolt import App, BoltRequest, BoltResponse

from bot.core import inbox
from bot.rate_limits import Throttled
from storage import Database
from storage.db import RIDER, URGENT, WRITE_FENCE, Rider
from storage.types import utcnow
from web.group_commit import GroupCommit
from web.intake_upkeep import Resumable, Upkeep
from web.intake_work import CURRENT_WORK, Kept, Work

if TYPE_CHECKING:
    from web.async_keep import AsyncKeep
    from web.handoff import Handoff
    from web.journal import Journal

log = logging.getLogger(__name__)

FINISH_EVERY = 0.02  # seconds: rows whose work ended are marked processed together
LINE_WAIT = 30.0  # seconds a request waits at most for the same person's request before it


class Intake(Upkeep):
    """The inbox of one replica: stores, dispatches, finishes, and takes over from the dead."""

    def __init__(
        self,
        *,
        bolt_app: App,
        db: Database,
        owner: str,
        lease_seconds: float,
        retention_days: float,
        resumable: Resumable = lambda _body: False,
    ) -> None:
        self.bolt_app = bolt_app
        self.db = db
        self.owner = owner[:64]
        self.lease = timedelta(seconds=lease_seconds)
        self.retention = timedelta(days=retention_days)
        self.resumable = resumable
        self._active: dict[int, Work] = {}
        self._lines: dict[str, Work] = {}  # each person's latest request (line_up)
        self._lock = threading.Lock()
        self._finishing: list[int] = []
        self._finishing_lock = threading.Lock()
        self._finish_wanted = threading.Event()
        self._closed = False
        self._kept: GroupCommit[tuple[Kept, str], int | None] = GroupCommit(self._store_many)
        # Writes the batches of requests the event loop keeps (`store_async`), one at a time.
        self._keeper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inbox-keeper")
        self.handoff: Handoff | None = None  # the processing worker, when one is ready
        self.journal: Journal | None = None  # SQLite over HTTP: the keep before the answer
        self.async_keep: AsyncKeep | None = None  # PostgreSQL over HTTP: the loop's keep
        self._flusher = threading.Thread(target=self._flush_loop, name="inbox-finish", daemon=True)
        self._flusher.start()

    # -- intake ---------------------------------------------------------------------------

    def _store_many(self, requests: list[tuple[Kept, str]]) -> list[int | None]:
        token = WRITE_FENCE.set(None)
        urgent = URGENT.set(True)  # Slack waits for these
        rows = [kept.row(owner) for kept, owner in requests]
        try:  # (one statement: on PostgreSQL one round trip; retried once on a broken connection)
            return self.db.one_statement(
                lambda conn: inbox.record_many(conn, rows, lease=self.lease, now=utcnow())
            )
        finally:
            URGENT.reset(urgent)
            WRITE_FENCE.reset(token)

    def store(
        self,
        *,
        kind: str,
        key: str,
        mode: str,
        content_type: str,
        body: str,
        rider: Rider | None = None,
        owner: str | None = None,
    ) -> int | None:
        """Keep a request, leased to this replica (or to `owner`, the processing worker that
        will process it: web/handoff.py); None when it was kept before.

        `rider` writes in the same transaction (and may raise to roll it back); requests
        without one are kept together with those arriving meanwhile (web/group_commit.py)."""
        if rider is None:
            return self._kept.write(
                (Kept(kind, key, mode, content_type, body), owner or self.owner)
            )
        token = WRITE_FENCE.set(None)
        urgent = URGENT.set(True)  # Slack waits for this
        try:
            with self.db.session() as session:
                rider.run(session)
                return inbox.record(
                    session,
                    key=key,
                    kind=kind,
                    mode=mode,
                    content_type=content_type,
                    body=body,
                    owner=owner or self.owner,
                    lease=self.lease,
                    now=utcnow(),
                )
        finally:
            rider.ended()  # (committed or rolled back)
            URGENT.reset(urgent)
            WRITE_FENCE.reset(token)

    def move(self, kept: Kept, *, owner: str) -> int | None:
        """Move a request answered from the journal into the inbox with its rider, leased to
        `owner`; None if it was there already or could not be moved (the sweep moves it)."""
        journal = self.journal
        assert journal is not None
        row_id = None
        with journal.moving(kept):
            try:
                row_id = self.store(**asdict(kept), rider=RIDER.get(), owner=owner)
            except Throttled as exc:  # over the limit by a race after the look: answered
                log.warning("%s %s kept over its limit: %s", kept.kind, kept.key, exc)
                row_id = self.store(**asdict(kept), owner=owner)
        return row_id

    async def store_async(self, kept: Kept, owner: str | None = None) -> int | None:
        """`store` (without a rider) for the event loop: no thread is borrowed per request;
        those kept meanwhile are written together (on PostgreSQL from the loop itself,
        web/async_keep.py; otherwise with those kept from threads)."""
        if self.async_keep is not None:
            return await self.async_keep.keep(kept.row(owner or self.owner))
        return await self._kept.write_async((kept, owner or self.owner), self._keeper)

    @property
    def keeps(self) -> int:
        """Writes that kept requests answered at once (each one or several), so far."""
        return self._kept.batches + (self.async_keep.batches if self.async_keep else 0)

    def dispatch(self, work: Work, request: BoltRequest, *, urgent: bool = False) -> BoltResponse:
        """Run the request's listener; returns Bolt's answer once the listener acknowledged.

        `urgent`: Slack waits for the answer; the listener's writes before it acknowledges
        go first (see storage.turns.WriteQueue).
        """
        if work.row_id is not None:
            with self._lock:
                taken = self._active.get(work.row_id, work) is not work  # by the sweep
                if not taken:
                    self._active[work.row_id] = work
            if taken:
                log.info("inbox request %s is being processed here already", work.row_id)
                work.done.set()
                self.off_line(work)
                return BoltResponse(status=200, body="")
        if work.after is not None:  # the same person's request before this one goes first
            work.after.done.wait(LINE_WAIT)
            work.after = None
        work_token = CURRENT_WORK.set(work)
        fence_token = WRITE_FENCE.set(work.fence)
        urgent_token = URGENT.set(urgent)
        try:
            return self.bolt_app.dispatch(request)
        finally:
            URGENT.reset(urgent_token)
            WRITE_FENCE.reset(fence_token)
            CURRENT_WORK.reset(work_token)
            work.end()

    def process_answered(self, work: Work, request: BoltRequest) -> None:
        """Run a request answered already (here, or in the processing worker): Slack has its
        answer, so what Bolt says is logged, and a failure is left to the sweep."""
        try:
            response = self.dispatch(work, request)
        except Exception:  # Bolt answers errors itself; this is a bug, logged
            log.exception("processing inbox request %s failed", work.row_id)
            return
        if response.status != 200:
            log.warning("answered 200, but Bolt said %s: %s", response.status, response.body)

    def work_of(self, row_id: int) -> Work:
        """The work of a request kept already (an event, or a row taken over)."""
        return Work(self, row_id=row_id)

    def line_up(self, work: Work, person: str | None) -> Work:
        """Process `work` after the same person's request before it, if that is not done:
        their commands and clicks, answered at once, are processed in the order they came."""
        if person:
            with self._lock:
                before = self._lines.get(person)
                self._lines[person] = work
            work.person = person
            if before is not None and not before.done.is_set():
                work.after = before
        return work

    def off_line(self, work: Work) -> None:
        if work.person is not None:
            with self._lock:
                if self._lines.get(work.person) is work:
                    del self._lines[work.person]

    def receive(self, row_id: int) -> Work:
        """The work of a request the front handed to this worker (web/handoff.py), processed
        here from now on: its lease is renewed and the sweep leaves it alone while it waits."""
        work = Work(self, row_id=row_id)
        with self._lock:
            self._active.setdefault(row_id, work)
        return work

    def accept(self, kept: Kept, request: BoltRequest, person: str | None = None) -> BoltResponse:
        """Run a command's or an interaction's listener; it is kept before it is answered
        (`person`: who sent it, person_of)."""
        work = Work(self, row_id=None, kept=kept, person=person)
        return self.dispatch(work, request, urgent=True)

    def adopt(self, work: Work, row_id: int) -> None:
        """A request was kept as `row_id`: it is processed here from now on."""
        with work._lock:
            work.row_id = row_id
        with self._lock:
            self._active[row_id] = work

    def release(self, row_id: int) -> None:
        """This process no longer processes `row_id` (it was handed to the worker)."""
        with self._lock:
            self._active.pop(row_id, None)

    def finished(self, work: Work, error: str | None = None) -> None:
        """Mark a row processed (called when the last piece of its work ends).

        Rows are marked in batches, every FINISH_EVERY seconds, in one transaction: a crash
        in between only means those rows are looked at again (see `_replay`).
        """
        if work.row_id is None or work.handed:  # never kept (nothing was asked, or another
            return  # delivery has it), or the processing worker finishes it
        with self._lock:
            self._active.pop(work.row_id, None)
        if error is not None:
            self._finish_now(work.row_id, error)
            return
        with self._finishing_lock:
            self._finishing.append(work.row_id)
        self._finish_wanted.set()

    def _finish_now(self, row_id: int, error: str | None) -> None:
        token = WRITE_FENCE.set(None)
        try:
            with self.db.session() as session:
                inbox.finish(session, row_id=row_id, owner=self.owner, now=utcnow(), error=error)
        except Exception as exc:  # the lease runs out and another replica finishes it
            log.error("could not mark inbox request %s processed: %s", row_id, exc)
        finally:
            WRITE_FENCE.reset(token)

    def flush(self) -> None:
        """Mark the rows whose work has ended processed, in one transaction."""
        with self._finishing_lock:
            row_ids, self._finishing = self._finishing, []
        if not row_ids:
            return
        token = WRITE_FENCE.set(None)
        try:
            with self.db.session() as session:
                done = inbox.finish_many(session, row_ids=row_ids, owner=self.owner, now=utcnow())
            if done < len(row_ids):
                log.warning(
                    "%s inbox requests were taken over before they finished", len(row_ids) - done
                )
        except Exception as exc:  # their leases run out and they are looked at again
            log.error("could not mark %s inbox requests processed: %s", len(row_ids), exc)
        finally:
            WRITE_FENCE.reset(token)

    def _flush_loop(self) -> None:
        while not self._closed:
            self._finish_wanted.wait()
            time.sleep(FINISH_EVERY)  # let a batch gather
            self._finish_wanted.clear()
            self.flush()

    def close(self) -> None:
        """Mark what has finished processed (at shutdown, once no work runs)."""
        self._closed = True
        self._finish_wanted.set()
        self._flusher.join(timeout=5)
        self._keeper.shutdown(wait=True)
        self.flush()
