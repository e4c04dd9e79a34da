"""Two lanes in front of a thread pool (web/lanes.py): a free thread takes what a
person sent before any event, and each lane keeps the order its requests came in."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import pytest

from web.lanes import Lanes


def test_a_free_thread_takes_what_people_sent_before_events_each_in_order() -> None:
    ran: list[str] = []
    busy = threading.Event()
    with ThreadPoolExecutor(max_workers=1) as pool:
        lanes = Lanes(pool)
        lanes.submit(None, busy.wait)  # the pool's one thread is busy until released
        for n in range(3):
            lanes.submit(None, partial(ran.append, f"event {n}"))
        lanes.submit("U1", lambda: ran.append("U1 declare"))
        lanes.submit("U2", lambda: ran.append("U2 button"))
        lanes.submit(None, lambda: ran.append("event 3"))
        lanes.submit("U1", lambda: ran.append("U1 form"))
        busy.set()
    assert ran == [
        "U1 declare",
        "U2 button",
        "U1 form",
        "event 0",
        "event 1",
        "event 2",
        "event 3",
    ]


def test_a_request_that_fails_is_logged_and_the_next_ones_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ran: list[int] = []

    def fails() -> None:
        raise RuntimeError("a bug in a listener's wrapper")

    with caplog.at_level(logging.ERROR), ThreadPoolExecutor(max_workers=1) as pool:
        lanes = Lanes(pool)
        lanes.submit("U1", fails)
        lanes.submit(None, lambda: ran.append(1))
        lanes.submit("U1", lambda: ran.append(2))
    assert sorted(ran) == [1, 2]
    assert "processing an answered request failed" in caplog.text
    assert "a bug in a listener's wrapper" in caplog.text
