"""ListenerPool: work left after ack() never delays the next acknowledgement."""

from __future__ import annotations

import threading
import time
from typing import Any

from slack_bolt import Ack

from web.server import ListenerPool, _PoolAck


def test_a_listener_acks_while_earlier_ones_still_work() -> None:
    pool = ListenerPool(max_workers=8, background=1)
    release = threading.Event()
    acked: list[float] = []

    def slow_listener(ack: Ack) -> None:
        ack()
        release.wait(5)  # the work after ack(): holds the only background slot

    def next_listener(ack: Ack) -> None:
        ack()
        acked.append(time.monotonic())

    try:
        first, second = _PoolAck(pool), _PoolAck(pool)
        pool.submit(slow_listener, first)
        deadline = time.monotonic() + 2
        while first.response is None and time.monotonic() < deadline:
            time.sleep(0.005)
        started = time.monotonic()
        pool.submit(next_listener, second)
        while second.response is None and time.monotonic() < deadline:
            time.sleep(0.005)
        # The second request is acknowledged at once, although the first holds the slot...
        assert second.response is not None and second.response.status == 200
        assert time.monotonic() - started < 1
        # ...and the rest of its work waits for the slot.
        time.sleep(0.1)
        assert acked == []
        release.set()
        deadline = time.monotonic() + 2
        while not acked and time.monotonic() < deadline:
            time.sleep(0.005)
        assert acked
    finally:
        release.set()
        pool.shutdown(wait=True)


def test_slots_are_given_back_when_listeners_end_or_fail() -> None:
    pool = ListenerPool(max_workers=4, background=1)

    def failing(ack: Ack) -> None:
        ack()
        ack()  # a second ack() in the same listener takes no second slot
        raise RuntimeError("boom")

    try:
        for _ in range(3):  # with a leaked slot, the second run would block for ever
            future = pool.submit(failing, _PoolAck(pool))
            exc = future.exception(timeout=2)
            assert isinstance(exc, RuntimeError)
    finally:
        pool.shutdown(wait=True)


def test_ack_outside_a_listener_thread_does_not_wait() -> None:
    pool = ListenerPool(max_workers=2, background=1)
    try:
        ack = _PoolAck(pool)
        ack()  # Bolt acknowledges events itself, on the request's thread: never blocks
        ack()
        assert ack.response is not None
    finally:
        pool.shutdown(wait=True)


def test_deferred_work_frees_the_listener_and_shares_the_slots() -> None:
    """ack.then(work): the listener returns at once; the work runs within the same slots."""
    pool = ListenerPool(max_workers=8, background=2)
    running, peak, done = [0], [0], []
    lock = threading.Lock()

    def work(n: int) -> None:
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        time.sleep(0.05)
        with lock:
            running[0] -= 1
            done.append(n)

    def deferring(ack: _PoolAck, n: int) -> str:
        ack.then(lambda: work(n))
        return "returned"

    def inline(ack: Ack, n: int) -> None:
        ack()
        work(n)

    try:
        acks = [_PoolAck(pool) for _ in range(10)]
        started = time.monotonic()
        futures = [pool.submit(deferring if n % 2 else inline, acks[n], n) for n in range(10)]
        deferred = [f for n, f in enumerate(futures) if n % 2]
        assert [f.result(timeout=1) for f in deferred] == ["returned"] * 5
        assert time.monotonic() - started < 0.2  # no deferring listener waited for a slot
        assert all(a.response is not None and a.response.status == 200 for a in acks)
    finally:
        pool.shutdown(wait=True)  # waits for the deferred work too
    assert sorted(done) == list(range(10))
    assert peak[0] == 2  # inline and deferred work together never exceeded the 2 slots


def test_deferred_work_that_fails_is_logged(caplog: Any) -> None:
    pool = ListenerPool(max_workers=2, background=1)

    def broken() -> None:
        raise RuntimeError("setup exploded")

    try:
        pool.submit(lambda: _PoolAck(pool).then(broken)).result(timeout=1)
    finally:
        pool.shutdown(wait=True)
    assert "deferred listener work failed" in caplog.text
    assert "setup exploded" in caplog.text
