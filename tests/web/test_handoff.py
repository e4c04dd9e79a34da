"""Giving journal lines to the processing worker (web/handoff.py, web/worker.py).

On SQLite the front gives the worker the requests it answered from its journal; the worker
moves them into the inbox and says so. A line leaves the front's journal only once the
worker said it is in the inbox; what the worker did not move goes to the front's sweep.
These tests drive both ends of the real pipe and status channel, without processes.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import IO, Any

from web.handoff import Handoff, _serials
from web.intake_work import Kept
from web.journal import Journal
from web.worker import REPLY_BYTES, Replies, Status


def _kept(n: int) -> Kept:
    return Kept("events_api", f"Ev{n:04d}", "http", "application/json", f'{{"n": {n}}}')


def _pipe() -> tuple[IO[bytes], IO[bytes]]:
    read, write = os.pipe()
    return os.fdopen(read, "rb"), os.fdopen(write, "wb")


def _given(stream: IO[bytes], count: int) -> list[dict[str, Any]]:
    return [json.loads(stream.readline()) for _ in range(count)]


def test_a_line_leaves_the_journal_once_the_worker_moved_it(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "bot.db"))
    worker_in, front_out = _pipe()
    handoff = Handoff(front_out, "worker-1", journal)
    for n in (1, 2, 3):
        journal.write(_kept(n))
        assert handoff.give(_kept(n), person="U1" if n == 2 else None)
    items = _given(worker_in, 3)
    assert [item["key"] for item in items] == ["Ev0001", "Ev0002", "Ev0003"]
    assert items[1]["person"] == "U1" and items[0]["kind"] == "events_api"
    assert items[2]["body"] == '{"n": 3}' and items[2]["type"] == "application/json"
    serials: list[int] = [item["given"] for item in items]
    assert len(set(serials)) == 3

    handoff.settle(moved=[serials[0], serials[2]], failed=[])
    assert journal.pending == 1 and os.path.getsize(journal.path) > 0
    handoff.settle(moved=[serials[0]], failed=[])  # said twice: counted once
    assert journal.pending == 1
    handoff.settle(moved=[serials[1]], failed=[])
    assert journal.pending == 0 and os.path.getsize(journal.path) == 0
    assert journal.recover() == []  # nothing for the sweep
    handoff.close()
    worker_in.close()
    journal.close()


def test_what_the_worker_could_not_move_or_left_when_it_died_goes_to_the_sweep(
    tmp_path: Path,
) -> None:
    journal = Journal(str(tmp_path / "bot.db"))
    worker_in, front_out = _pipe()
    handoff = Handoff(front_out, "worker-1", journal)
    for n in (1, 2, 3):
        journal.write(_kept(n))
        handoff.give(_kept(n))
    first, second, third = (int(item["given"]) for item in _given(worker_in, 3))

    handoff.settle(moved=[first], failed=[second])  # the worker could not write the inbox
    [retry] = journal.recover()
    assert [k.key for k in retry.lines] == ["Ev0002"]
    retry.settle(True)  # the sweep moved it

    handoff.gone()  # the worker died with the third line unmoved
    assert not handoff.alive and not handoff.give(_kept(4)), "nothing is given to the dead"
    [left] = journal.recover()
    assert [k.key for k in left.lines] == ["Ev0003"]
    left.settle(True)
    assert journal.pending == 0 and os.path.getsize(journal.path) == 0
    handoff.settle(moved=[third], failed=[])  # a late word changes nothing
    assert journal.pending == 0
    handoff.close()
    worker_in.close()
    journal.close()


def test_without_a_journal_nothing_is_given(tmp_path: Path) -> None:
    worker_in, front_out = _pipe()
    handoff = Handoff(front_out, "worker-1")  # PostgreSQL: rows are kept before the answer
    assert not handoff.give(_kept(1))
    handoff.close()
    worker_in.close()


def test_the_worker_says_what_it_moved_in_whole_lines_a_few_times_a_second() -> None:
    front_in, worker_out = _pipe()
    replies = Replies(Status(worker_out))
    count = 2000

    def say_moved(first: int) -> None:
        for serial in range(first, count, 4):
            replies.moved(serial)

    writers = [threading.Thread(target=say_moved, args=(k,)) for k in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    replies.failed(99_999)
    replies.close()
    worker_out.close()
    lines = front_in.read().splitlines()
    front_in.close()
    assert all(len(line) < REPLY_BYTES + 100 for line in lines), "each line is written whole"
    messages = [json.loads(line) for line in lines]
    moved = [n for message in messages for n in _serials(message, "moved")]
    assert sorted(moved) == list(range(count))
    assert [n for message in messages for n in _serials(message, "failed")] == [99_999]
    assert len(messages) < count / 10, "gathered, not one line per request"


def test_a_status_line_that_is_not_a_list_of_numbers_settles_nothing() -> None:
    assert _serials({"moved": "1,2"}, "moved") == []
    assert _serials({"moved": [1, "2", None, 3]}, "moved") == [1, 3]
    assert _serials({}, "failed") == []


def test_lines_the_pipe_cannot_take_now_follow_whole_and_in_order() -> None:
    """The front queues lines for its writer thread (web/handoff.Handoff._write): when the
    worker reads slowly and the pipe fills up, the rest waits in order, each line arrives
    whole, and close() sends all of it before ending the pipe."""
    worker_in, front_out = _pipe()
    handoff = Handoff(front_out, "worker-1")
    bodies = ["x" * (n * 97 % 9000) for n in range(200)]  # ~0.9 MB: many pipes full
    for n, body in enumerate(bodies):
        assert handoff.send(n, "application/json", body, person=f"U{n % 3}")
    handoff.kick()
    read: list[dict[str, Any]] = []
    reader = threading.Thread(target=lambda: read.extend(json.loads(x) for x in worker_in))
    reader.start()
    handoff.close()
    reader.join(timeout=10)
    assert [item.get("id") for item in read] == [*range(200), None]
    assert [item["body"] for item in read[:-1]] == bodies
    assert read[-1] == {"kick": True}
