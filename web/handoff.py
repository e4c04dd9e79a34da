"""The processing worker: requests answered at once are processed in a second process.

The replica that serves HTTP (the front) answers a slash command, a button press, a
shortcut or an event as soon as it is kept in the inbox (web/intake.py). Processing it in
the same interpreter means sharing one CPU (Python's interpreter lock) with the answers
that come next: on a busy replica each answer waits behind the work of the ones before it.
So `python app.py` starts a worker process beside the front (`PROCESS_WORKER`, on by
default over HTTP): the front keeps those requests leased to the worker and sends it their
row ids and bodies over a pipe; the worker, a whole runtime without an HTTP server, runs
their listeners, and runs its share of deliveries and scheduled work like any replica
(web/worker.py is its side). On SQLite the front does not even write the inbox row: it
gives the worker the line it kept in its journal, and the worker moves it into the inbox.

Nothing is lost in between: a request is in the inbox (or the front's journal) before it is
answered. If the worker dies, its rows' leases run out and the front's sweep processes them,
with the journal lines it had not moved yet; the front starts a new worker and processes
requests itself until it is ready. If the front dies, the kernel kills the worker with it
(PR_SET_PDEATHSIG), as it would kill one process.

The worker runs at a lower CPU priority than the front (`WORKER_NICENESS`): when both want a
core, the answers Slack waits for get it first, and the worker takes what they leave (all of
it when no request is coming in). A burst is answered first and processed right after.

The worker sends back, once a second, what its counters of Web API calls, deliveries and
reminders gained, so the front's /metrics counts the work of both processes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import queue
import subprocess
import threading
import time
from collections.abc import Callable
from typing import IO, Any

from prometheus_client import Counter as PromCounter

from bot.slack.delivery import REPLICA_PID_ENV
from web.intake_work import Kept
from web.journal import Journal

log = logging.getLogger(__name__)

OWNER_ENV = "INCIDENT_BOT_WORKER_OWNER"  # the worker's lease owner, chosen by the front
STATUS_FD_ENV = "INCIDENT_BOT_WORKER_STATUS_FD"  # where the worker says ready, and counts
READY_WAIT = 60.0  # seconds the front waits for a worker to be ready before trying again
RESTART_AFTER = 1.0  # seconds before a worker that died is started again
PR_SET_PDEATHSIG = 1
WORKER_NICENESS = 10  # the worker's CPU weight is about a tenth of the front's (Linux CFS)


class Handoff:
    """The front's side of the pipe to a ready worker.

    On SQLite (`journal`), a request answered from the journal is given to the worker as it
    is (`give`): the worker moves it into the inbox, leased to itself, then processes it, so
    the front writes nothing to the database for it. Its line stays in the front's journal
    until the worker says it is in the inbox (`settle`); what the worker had not moved when
    it died, or could not move, goes to the front's sweep (`gone`, Journal.move_failed).
    """

    def __init__(self, pipe: IO[bytes], owner: str, journal: Journal | None = None) -> None:
        self.owner = owner
        self._pipe = pipe
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self.alive = True
        self._journal = journal
        self._given: dict[int, Kept] = {}  # lines the worker has not said are in the inbox
        self._settled: dict[int, Callable[[], None]] = {}  # (give's `settled`)
        self._serial = itertools.count(1)
        self._lock = threading.Lock()
        self._writer = threading.Thread(target=self._write, name="handoff", daemon=True)
        self._writer.start()

    def give(
        self,
        kept: Kept,
        person: str | None = None,
        *,
        rider: dict[str, str] | None = None,
        settled: Callable[[], None] | None = None,
    ) -> bool:
        """Give the worker a request kept in the journal and answered, to move into the inbox
        and process; False when it cannot take it (no journal, or the worker is gone).

        `rider`: the spec of the write that goes with the move (storage.db.Rider.spec: the
        declare limit's take), made by the worker in the move's transaction; `settled` is
        called once the worker said the line is moved, or it is left to the sweep."""
        with self._lock:
            if not self.alive or self._journal is None:
                return False
            serial = next(self._serial)
            self._given[serial] = kept
            if settled is not None:
                self._settled[serial] = settled
        item: dict[str, Any] = {
            "given": serial,
            "kind": kept.kind,
            "key": kept.key,
            "type": kept.content_type,
            "body": kept.body,
            "person": person,
        }
        if rider is not None:
            item["rider"] = rider
        self._put(item)
        return True

    def settle(self, moved: list[int], failed: list[int]) -> None:
        """The worker moved these lines into the inbox, or could not (the sweep moves them)."""
        journal = self._journal
        if journal is None:
            return
        with self._lock:
            done = sum(1 for serial in moved if self._given.pop(serial, None) is not None)
            lost = [self._given.pop(serial) for serial in failed if serial in self._given]
            settled = [self._settled.pop(s) for s in (*moved, *failed) if s in self._settled]
        if done:
            journal.moved(done)
        for kept in lost:
            journal.move_failed(kept)
        for call in settled:
            call()

    def gone(self) -> None:
        """The worker exited: nothing more is given to it, and what it had not moved into the
        inbox is left to the front's sweep (the inbox keeps one row per key: a line it moved
        but had not reported is not kept twice)."""
        with self._lock:
            self.alive = False
            lost, self._given = list(self._given.values()), {}
            settled, self._settled = list(self._settled.values()), {}
        for call in settled:  # (the sweep keeps them without their riders)
            call()
        if lost:
            log.warning(
                "the processing worker left %s requests to move: the sweep has them", len(lost)
            )
        for kept in lost:
            assert self._journal is not None
            self._journal.move_failed(kept)

    def send(self, row_id: int, content_type: str, body: str, person: str | None = None) -> bool:
        """Give the worker a kept request (`person`: processed after their request before
        it, see Intake.line_up); False when the worker is gone."""
        if not self.alive:
            return False
        self._put({"id": row_id, "type": content_type, "body": body, "person": person})
        return True

    def _put(self, item: dict[str, Any]) -> None:
        self._queue.put((json.dumps(item) + "\n").encode())

    def kick(self) -> None:
        """Tell the worker new outbox deliveries were committed here (it delivers them)."""
        if self.alive:
            self._queue.put(b'{"kick": true}\n')

    def _write(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                break
            chunk = [item]
            with contextlib.suppress(queue.Empty):
                while len(chunk) < 256:
                    more = self._queue.get_nowait()
                    if more is None:
                        self._queue.put(None)
                        break
                    chunk.append(more)
            try:
                self._pipe.write(b"".join(chunk))
                self._pipe.flush()
            except (OSError, ValueError) as exc:  # the worker died: its leases run out
                log.error("the processing worker is gone (%s); processing here", exc)
                self.alive = False
                return

    def close(self) -> None:
        """Send what is queued, then end the pipe: the worker finishes and exits."""
        self._queue.put(None)
        self._writer.join(timeout=30)
        with contextlib.suppress(OSError, ValueError):
            self._pipe.close()
        self.alive = False


class WorkerProcess:
    """Starts the worker beside the front, watches it, starts it again if it dies."""

    def __init__(
        self,
        *,
        command: list[str],
        owner: Callable[[], str],
        on_ready: Callable[[Handoff | None], None],
        on_counts: Callable[[dict[str, Any]], None],
        journal: Journal | None = None,
    ) -> None:
        self._command = command
        self._owner = owner
        self._on_ready = on_ready
        self._on_counts = on_counts
        self._journal = journal  # SQLite: the worker moves the front's journal lines (give)
        self._stopping = threading.Event()
        self._proc: subprocess.Popen[bytes] | None = None
        self._handoff: Handoff | None = None
        self._thread = threading.Thread(target=self._run, name="worker-process", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            started = time.monotonic()
            self._serve_one()
            if self._stopping.is_set():
                return
            wait = RESTART_AFTER if time.monotonic() - started > 10 else 5 * RESTART_AFTER
            log.error("the processing worker stopped; starting it again in %.0f s", wait)
            self._stopping.wait(wait)

    def _serve_one(self) -> None:
        owner = self._owner()
        status_r, status_w = os.pipe()
        env = {
            **os.environ,
            OWNER_ENV: owner,
            STATUS_FD_ENV: str(status_w),
            REPLICA_PID_ENV: os.environ.get(REPLICA_PID_ENV) or str(os.getpid()),
        }
        try:
            proc = subprocess.Popen(
                self._command, stdin=subprocess.PIPE, env=env, pass_fds=(status_w,)
            )
        except OSError as exc:
            os.close(status_r)
            os.close(status_w)
            log.error("could not start the processing worker: %s", exc)
            return
        os.close(status_w)
        self._proc = proc
        assert proc.stdin is not None
        with os.fdopen(status_r, "rb") as status:
            ready = False
            for raw in status:  # "ready", then counter reports, until the worker exits
                try:
                    message = json.loads(raw)
                except ValueError:
                    continue
                if message.get("ready") and not ready:
                    ready = True
                    self._handoff = Handoff(proc.stdin, owner, self._journal)
                    log.info("processing worker %s ready (pid %s)", owner, proc.pid)
                    self._on_ready(self._handoff)
                elif "counts" in message:
                    self._on_counts(message["counts"])
                elif self._handoff is not None and ("moved" in message or "failed" in message):
                    self._handoff.settle(_serials(message, "moved"), _serials(message, "failed"))
        proc.wait()
        if self._handoff is not None:
            self._handoff.gone()
        self._handoff = None
        self._on_ready(None)

    def stop(self, timeout: float = 30.0) -> None:
        """End the pipe (the worker finishes what it was given) and wait for the worker."""
        self._stopping.set()
        self._on_ready(None)
        handoff, proc = self._handoff, self._proc
        if handoff is not None:
            handoff.close()
        elif proc is not None and proc.stdin is not None:
            with contextlib.suppress(OSError, ValueError):
                proc.stdin.close()
        if proc is not None:
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                log.error("the processing worker did not stop in %.0f s; killing it", timeout)
                proc.kill()
                proc.wait()
        self._thread.join(timeout=5)


def _serials(message: dict[str, Any], key: str) -> list[int]:
    """The worker's list of given lines under `key` (nothing if it is not a list of ints)."""
    found = message.get(key)
    if not isinstance(found, list):
        return []
    return [serial for serial in found if isinstance(serial, int)]


def add_counts(counters: dict[str, PromCounter], counts: dict[str, Any]) -> None:
    """In the front: add a worker's report to this process's counters."""
    for name, gains in counts.items():
        counter = counters.get(name)
        if counter is None or not isinstance(gains, list):
            continue
        for labels, amount in gains:
            with contextlib.suppress(ValueError, TypeError):
                counter.labels(**labels).inc(float(amount))
