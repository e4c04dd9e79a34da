"""SQLite's writers of one process queue in WriteQueue: re-entrant, urgent writers first."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from storage.answering import URGENT, UrgentBoard
from storage.turns import WriteQueue


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


def test_writers_of_two_processes_take_turns_through_the_lock_file(tmp_path: Path) -> None:
    """Another process's writer holds the lock file: this process's writer waits for it (and
    is woken when it lets go), where without the file both would go ahead at once."""
    import subprocess
    import sys

    path = tmp_path / "db-writer"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from storage.turns import WriteQueue\n"
            "queue = WriteQueue()\n"
            f"queue.share_between_processes({str(path)!r})\n"
            "with queue.held():\n"
            "    print('holding', flush=True)\n"
            "    time.sleep(0.6)\n"
            "    print('released', time.time(), flush=True)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"
        queue = WriteQueue()
        queue.share_between_processes(str(path))
        try:
            with queue.held():
                got = time.time()
            released = float(holder.stdout.readline().split()[1])
        finally:
            queue.close()
        assert holder.wait(10) == 0
    finally:
        holder.kill()
    assert got >= released  # it waited for the other process's writer
    assert got - released < 0.5  # and was woken when it let go, not at a later poll
