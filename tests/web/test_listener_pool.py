"""ListenerPool: work left after ack() never delays the next acknowledgement."""

from __future__ import annotations

import threading
import time

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
