"""Acknowledgements first: background work gives way while Slack waits for an answer.

One interpreter runs both the answers Slack waits for (verify, keep in the inbox, answer)
and the work of requests already answered (their listeners, deliveries, reminders). On a
busy replica that work holds the CPU (and Python's interpreter lock) in long stretches, and
an answer then waits behind it. Here the web server counts the requests it is answering
(`ANSWERING.answering()`), and background work checks in at its natural pauses (before a
database session, before a Web API call: `give_way()`), waiting there while any answer is
due, at most `patience` seconds at a time, so a steady stream of requests slows the
background down but never stops it.

Work Slack waits on (storage.db.URGENT) and work inside an open session (which may hold
SQLite's write lock or a row lock an answer needs) never waits here.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

URGENT: ContextVar[bool] = ContextVar("incident_bot_urgent_write", default=False)


class Answering:
    """How many requests are being answered; where background work waits for none."""

    def __init__(self, patience: float = 0.05) -> None:
        self.patience = patience
        self._due = 0
        self._idle = threading.Condition(threading.Lock())
        self._local = threading.local()
        self.waits = 0  # times background work gave way, for tests and benchmarks

    @property
    def due(self) -> int:
        """Answers being prepared now."""
        return self._due

    @contextmanager
    def answering(self) -> Iterator[None]:
        """Around the preparation of an answer Slack waits for."""
        with self._idle:
            self._due += 1
        try:
            yield
        finally:
            with self._idle:
                self._due -= 1
                if not self._due:
                    self._idle.notify_all()

    def give_way(self) -> None:
        """In background work, at a pause: wait while answers are due (see the module)."""
        if not self._due or URGENT.get():
            return
        inside: int = getattr(self._local, "inside", 0)
        if inside or _on_event_loop():  # (the loop prepares the answers: never wait there)
            return
        deadline = time.monotonic() + self.patience
        with self._idle:
            if self._due:
                self.waits += 1
            while self._due:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._idle.wait(left)

    @contextmanager
    def inside(self) -> Iterator[None]:
        """Around a session: no waiting here until it ends (it may hold locks answers need)."""
        local = self._local
        local.inside = getattr(local, "inside", 0) + 1
        try:
            yield
        finally:
            local.inside -= 1


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


ANSWERING = Answering()


class UrgentBoard:
    """How many of the front's writers Slack waits on want SQLite's lock, for other processes.

    SQLite has one writer at a time, and a process waiting for another's write lock polls in
    SQLite's busy handler, sleeping longer each try (up to 100 ms): behind a processing worker
    (web/handoff.py) that writes often, the front's answers would wait for many of its
    transactions in turn. The front publishes here, in a small file beside the database, how
    many urgent writers it has waiting or writing; the worker's writers wait while any do (at
    most `patience` seconds each), so the front waits for one transaction at most.
    """

    def __init__(self, path: str, patience: float = 0.2) -> None:
        self.path = path
        self.patience = patience
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)

    def publish(self, urgent: int) -> None:
        """The front: this many urgent writers are waiting for or holding the lock."""
        struct.pack_into("q", self._map, 0, urgent)

    def urgent(self) -> int:
        """What the front published last."""
        return int(struct.unpack_from("q", self._map, 0)[0])

    def wait_clear(self) -> None:
        """The worker, before a write transaction: wait while the front has urgent writers."""
        if self.urgent() <= 0:
            return
        deadline = time.monotonic() + self.patience
        while self.urgent() > 0 and time.monotonic() < deadline:
            time.sleep(0.0005)

    def close(self) -> None:
        self._map.close()
