"""SQLite's writers of one process queue in WriteQueue: re-entrant, urgent writers first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from storage.answering import UrgentBoard
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


def test_urgent_writers_are_published_for_a_worker_that_defers_to_them(tmp_path: Path) -> None:
    front, worker = WriteQueue(), WriteQueue()
    front.board = UrgentBoard(str(tmp_path / "db-answering"))
    worker.board, worker.defer = UrgentBoard(str(tmp_path / "db-answering"), patience=5.0), True
    front.acquire(urgent=True)
    assert worker.board.urgent() == 1
    released = time.monotonic()
    threading.Timer(0.3, front.release).start()
    worker.acquire(urgent=False)  # waits for the front's urgent writer to be done
    assert time.monotonic() - released > 0.25 and worker.board.urgent() == 0
    worker.release()
    front.acquire(urgent=False)  # background writers of the front are not published
    assert worker.board.urgent() == 0
    front.release()
