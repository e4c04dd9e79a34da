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
        if inside:
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


ANSWERING = Answering()
