"""Two lanes in front of a thread pool: what a person sent before events.

Someone who typed a command, pressed a button or submitted a form waits for what it does,
and a form it opens must open within the 3 s its trigger lasts; an event waits for nobody.
The processing worker (web/worker.py) takes the requests it is given through `Lanes`, so a
backlog of events (reactions in a busy incident, under a slow Slack) never holds a command
behind it. (A front without a worker needs none: its threads take a request only until its
listener acknowledges, web/server.ListenerPool.)
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger(__name__)


class Lanes:
    """The pool's queue in two lanes: requests a person sent (commands, interactions) and
    events. Each submission adds one turn to the pool, and each turn runs the first request
    of the people's lane, or else of the events' lane; each lane keeps the order requests
    came in. A person's requests are all in one lane, so one that waits for the same
    person's request before it (Intake.line_up) waits for one begun already, as before."""

    def __init__(self, pool: ThreadPoolExecutor) -> None:
        self._pool = pool
        self._lock = threading.Lock()
        self._people: deque[Callable[[], object]] = deque()
        self._events: deque[Callable[[], object]] = deque()

    def submit(self, person: str | None, run: Callable[[], object]) -> None:
        with self._lock:
            (self._events if person is None else self._people).append(run)
        self._pool.submit(self._turn)

    def _turn(self) -> None:
        with self._lock:
            run = self._people.popleft() if self._people else self._events.popleft()
        try:
            run()
        except Exception:  # a bug: the row stays unprocessed, and the sweep replays it
            log.exception("processing an answered request failed")
