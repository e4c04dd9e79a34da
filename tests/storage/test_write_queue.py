"""SQLite's writers of one process queue in WriteQueue: re-entrant, urgent writers first."""

from __future__ import annotations

import threading
import time

from storage.db import URGENT, WriteQueue


def test_it_is_reentrant() -> None:
    queue = WriteQueue()
    with queue.held(), queue.held():
        pass
    with queue.held():  # released fully: takeable again
        pass


def test_a_waiting_urgent_writer_goes_before_waiting_background_writers() -> None:
    queue = WriteQueue()
    order: list[str] = []
    queue.acquire(urgent=False)  # a background transaction holds the lock

    def writer(name: str, urgent: bool) -> None:
        token = URGENT.set(urgent)
        try:
            with queue.held():
                order.append(name)
        finally:
            URGENT.reset(token)

    background = [threading.Thread(target=writer, args=(f"b{n}", False)) for n in range(3)]
    for thread in background:
        thread.start()
    time.sleep(0.1)  # they wait
    urgent = threading.Thread(target=writer, args=("urgent", True))
    urgent.start()
    time.sleep(0.1)
    queue.release()
    for thread in [*background, urgent]:
        thread.join(5)
    assert order[0] == "urgent" and sorted(order[1:]) == ["b0", "b1", "b2"]
