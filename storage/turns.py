"""Turns at the database: SQLite's one writer within a process (urgent writers first, and
between processes through a lock file), and PostgreSQL's gate on background sessions.

`storage.db.Database` takes these turns around every write transaction; the request path
(web/) sets URGENT while Slack waits for an answer.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from storage.answering import URGENT, UrgentBoard

# URGENT (storage/answering.py) is True while a request from Slack waits for its answer (set
# by web/intake.py until the listener acknowledges): on SQLite its writes go before those of
# work already answered, and background work gives way to it (ANSWERING).


class WriteQueue:
    """SQLite's single writer, within this process: writers wait here, urgent ones first.

    Re-entrant. A waiting urgent writer (a request Slack waits on) gets the lock before any
    waiting background writer (the work of requests already answered), so a backlog of
    background work does not delay acknowledgements.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._urgent = threading.Condition(self._lock)
        self._background = threading.Condition(self._lock)
        self._owner: int | None = None
        self._owner_urgent = False
        self._depth = 0
        self._urgent_waiting = 0
        # Other processes' writers (storage/answering.UrgentBoard): this process publishes its
        # urgent writers there (`board`), or waits for the front's before writing (`defer`).
        self.board: UrgentBoard | None = None
        self.defer = False
        # Between processes, writers take turns through a lock file (share_between_processes):
        # the kernel wakes a waiter the moment it is free, where SQLite's busy handler sleeps.
        self._file: int | None = None

    def share_between_processes(self, path: str) -> None:
        """Writers of every process that opens the same `path` take turns through it."""
        self._file = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def close(self) -> None:
        if self._file is not None:
            os.close(self._file)
            self._file = None

    def _publish(self) -> None:
        if self.board is not None and not self.defer:
            self.board.publish(self._urgent_waiting + int(self._owner_urgent))

    def acquire(self, urgent: bool) -> None:
        me = threading.get_ident()
        if self._owner == me:  # (only this thread sets _owner to itself)
            self._depth += 1
            return
        if self.defer and self.board is not None and not urgent:
            self.board.wait_clear()
        with self._lock:
            if urgent:
                self._urgent_waiting += 1
                self._publish()
                while self._owner is not None:
                    self._urgent.wait()
                self._urgent_waiting -= 1
            else:
                while self._owner is not None or self._urgent_waiting:
                    self._background.wait()
            self._owner, self._depth, self._owner_urgent = me, 1, urgent
            self._publish()
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_EX)  # (waits for other processes' writers)

    def release(self) -> None:
        if self._file is not None and self._depth == 1:  # (only the owner releases)
            fcntl.flock(self._file, fcntl.LOCK_UN)
        with self._lock:
            self._depth -= 1
            if self._depth:
                return
            self._owner, self._owner_urgent = None, False
            self._publish()
            if self._urgent_waiting:
                self._urgent.notify()
            else:
                self._background.notify()

    @contextmanager
    def held(self) -> Iterator[None]:
        """Hold the lock for a transaction (urgent when URGENT is set in this context)."""
        self.acquire(URGENT.get())
        try:
            yield
        finally:
            self.release()


class BackgroundGate:
    """At most `slots` sessions of background work at a time, per thread re-entrant.

    On PostgreSQL every pooled connection is a server process: background work holding dozens
    of them at once (a backlog of incident setups) keeps the server's CPUs busy, and a request
    Slack waits on then waits behind it. Urgent sessions (URGENT) do not pass this gate, and
    use connections of their own. A session that waits longer than `patience` seconds goes
    ahead anyway: a slow gate, never a deadlock.
    """

    def __init__(self, slots: int, patience: float = 30.0) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self._local = threading.local()
        self._patience = patience

    @contextmanager
    def held(self) -> Iterator[None]:
        if getattr(self._local, "depth", 0) or URGENT.get():
            yield
            return
        got = self._slots.acquire(timeout=self._patience)
        self._local.depth = 1
        try:
            yield
        finally:
            self._local.depth = 0
            if got:
                self._slots.release()
