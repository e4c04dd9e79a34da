"""The processing worker's side of web/handoff.py: what `python app.py worker` runs.

The front gives the worker requests it answered, one JSON line each on the worker's stdin:
- `{"id": …}`: a request the front kept in the inbox already, leased to the worker;
- `{"given": …}` (SQLite): a request the front kept in its journal (web/journal.py); the
  worker moves it into the inbox, leased to itself, and tells the front (`Replies`), which
  then forgets the line;
- `{"kick": true}`: the front committed outbox deliveries (the worker delivers them).

Each request is processed on a thread of the worker's pool from its listener to its last
piece of work, so at most `threads` requests are processed at a time (a burst waits in the
pipe, not in a thread apiece). Same person's requests are processed in the order they came.
A free thread takes a person's command or interaction before any event (`Lanes`): someone
waits for the first, often with a trigger that lasts 3 s, and nobody for the second.

The worker writes to the front on its status channel: "ready", what its counters gained
once a second (`CountReporter`), and which given lines are in the inbox.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from functools import partial
from typing import IO, Any

from prometheus_client import Counter as PromCounter
from slack_bolt import BoltRequest

from bot.rate_limits import Throttled
from storage.db import Rider
from web.handoff import PR_SET_PDEATHSIG, STATUS_FD_ENV, WORKER_NICENESS
from web.intake import LINE_WAIT, Intake
from web.intake_work import Kept, Work
from web.lanes import Lanes
from web.slack_request import bolt_request

log = logging.getLogger(__name__)

COUNT_EVERY = 1.0  # seconds between the worker's counter reports
REPLY_EVERY = 0.02  # seconds the worker gathers which lines it moved before it says so
MOVERS = 4  # threads that move given lines into the inbox (process_handoffs)
REPLY_BYTES = 3000  # a status line stays below PIPE_BUF (4096 bytes): written whole


class Status:
    """The worker's channel to the front: one JSON object per line, from any thread."""

    def __init__(self, channel: IO[bytes]) -> None:
        self._channel = channel
        self._lock = threading.Lock()

    def send(self, message: dict[str, Any]) -> None:
        line = (json.dumps(message) + "\n").encode()
        with self._lock, contextlib.suppress(OSError, ValueError):  # the front is gone
            self._channel.write(line)


def become_worker() -> Status:
    """In the worker at start: die with the front, leave stop signals to it; returns the
    status channel."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() == 1:  # the front died before the line above
        sys.exit(1)
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)  # the front stops us by ending the pipe
    with contextlib.suppress(OSError):  # answers first (see web/handoff.py)
        os.nice(WORKER_NICENESS)
    return Status(os.fdopen(int(os.environ[STATUS_FD_ENV]), "wb", buffering=0))


class Replies:
    """Tells the front which given lines are in the inbox (or could not be moved), a few at a
    time: the front needs it only to empty its journal, and hears it at most 50 times a
    second however many requests come."""

    def __init__(self, status: Status) -> None:
        self._status = status
        self._lock = threading.Lock()
        self._moved: list[int] = []
        self._failed: list[int] = []
        self._wanted = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="worker-replies", daemon=True)
        self._thread.start()

    def moved(self, serial: int) -> None:
        with self._lock:
            self._moved.append(serial)
        self._wanted.set()

    def failed(self, serial: int) -> None:
        with self._lock:
            self._failed.append(serial)
        self._wanted.set()

    def _run(self) -> None:
        while not self._stopping:
            self._wanted.wait()
            self._wanted.clear()
            self.flush()
            time.sleep(REPLY_EVERY)

    def flush(self) -> None:
        with self._lock:
            moved, self._moved = self._moved, []
            failed, self._failed = self._failed, []
        for key, serials in (("moved", moved), ("failed", failed)):
            step = REPLY_BYTES // 12  # (a serial and its comma: at most 12 characters)
            for start in range(0, len(serials), step):
                self._status.send({key: serials[start : start + step]})

    def close(self) -> None:
        """Say what is left (at the end, before the worker exits)."""
        self._stopping = True
        self._wanted.set()
        self._thread.join(timeout=5)
        self.flush()


def given_work(intake: Intake, person: str | None) -> Work:
    """The work of a request the front answered from its journal, lined up now (in the order
    the front gave it), kept by `move`."""
    work = Work(intake, row_id=None)
    work.answered = True  # its listener goes on at once after it acknowledges
    return intake.line_up(work, person)


def move(
    intake: Intake,
    work: Work,
    kept: Kept,
    serial: int,
    replies: Replies,
    rider: Rider | None = None,
) -> bool:
    """Keep a given request in the inbox, leased to this worker, with `rider`'s write (the
    declare limit's take), and tell the front; False when there is nothing to process."""
    try:
        try:
            row_id = intake.store(**asdict(kept), rider=rider)
        except Throttled as exc:  # over the limit by a race after the front's look: answered
            log.warning("%s %s kept over its limit: %s", kept.kind, kept.key, exc)
            row_id = intake.store(**asdict(kept))
    except Exception as exc:  # the front's sweep moves it
        log.error("could not move a %s request into the inbox: %s", kept.kind, exc)
        replies.failed(serial)
        work.end()
        return False
    replies.moved(serial)
    if row_id is None:  # kept before: Slack sent it again, or the front's sweep moved it
        work.end()
        return False
    intake.adopt(work, row_id)
    return True


def process(intake: Intake, work: Work, request: BoltRequest) -> None:
    """Run the request, and keep this thread until its work ended (a listener goes on after
    it acknowledges): the pool's size bounds the requests processed at once."""
    intake.process_answered(work, request)
    work.done.wait(LINE_WAIT)


def process_handoffs(
    stream: IO[bytes],
    intake: Intake,
    *,
    threads: int,
    kick: Callable[[], None],
    replies: Replies,
    riders: Callable[[dict[str, str]], Rider | None] = lambda spec: None,
) -> None:
    """Read what the front gives and process it, until the front ends the pipe (`riders`
    builds the rider a given line names, handlers.access.rider_for).

    A given line is moved into the inbox as it comes, by one of MOVERS threads (those moved
    meanwhile go together, web/group_commit.py), however many requests wait to be processed:
    the front's journal empties, and the declare limit is taken, at the pace requests come.
    """

    def process_moved(moving: Future[bool], work: Work, kept: Kept) -> None:
        try:
            moved = moving.result()
        except Exception:  # a bug: the front's sweep moves the line
            log.exception("moving a given %s request failed", kept.kind)
            work.end()
            return
        if moved:
            process(intake, work, bolt_request(kept.body, kept.content_type))

    # The pool takes each request in its lane's order (Lanes), and waits for its move: a
    # request waits only for the same person's requests before it (Intake.line_up), all of
    # them begun already, so a full pool never waits for one still in its queue.
    with (
        ThreadPoolExecutor(max_workers=threads, thread_name_prefix="handoff") as pool,
        ThreadPoolExecutor(max_workers=MOVERS, thread_name_prefix="mover") as movers,
    ):
        lanes = Lanes(pool)
        for raw in stream:
            try:
                item = json.loads(raw)
                if item.get("kick"):
                    kick()
                    continue
                content_type, body = str(item["type"]), str(item["body"])
                if "given" in item:
                    serial: int | None = int(item["given"])
                    kept = Kept(str(item["kind"]), str(item["key"]), "http", content_type, body)
                    spec = item.get("rider")
                    rider = riders(spec) if isinstance(spec, dict) else None
                else:
                    serial, row_id = None, int(item["id"])
            except (ValueError, KeyError, TypeError, AttributeError):
                log.error("the front sent a line that is not a kept request; ignored")
                continue
            person = item.get("person")
            if serial is not None:
                work = given_work(intake, person)
                moving = movers.submit(move, intake, work, kept, serial, replies, rider)
                lanes.submit(person, partial(process_moved, moving, work, kept))
            else:
                work = intake.line_up(intake.receive(row_id), person)
                lanes.submit(
                    person, partial(process, intake, work, bolt_request(body, content_type))
                )


class CountReporter:
    """In the worker: sends what the counters gained since the last report, once a second."""

    def __init__(self, status: Status, counters: dict[str, PromCounter]) -> None:
        self._status = status
        self._counters = counters
        self._sent: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-counts", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(COUNT_EVERY):
            self.report()

    def report(self) -> None:
        gains: dict[str, list[tuple[dict[str, str], float]]] = {}
        for name, counter in self._counters.items():
            for family in counter.collect():
                for sample in family.samples:
                    if not sample.name.endswith("_total"):
                        continue
                    key = (name, tuple(sorted(sample.labels.items())))
                    gained = sample.value - self._sent.get(key, 0.0)
                    if gained > 0:
                        self._sent[key] = sample.value
                        gains.setdefault(name, []).append((dict(sample.labels), gained))
        if gains:
            self._status.send({"counts": gains})

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.report()
