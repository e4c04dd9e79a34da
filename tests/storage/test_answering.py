"""Acknowledgements first (storage/answering.py): background work waits while answers are due."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from storage.answering import URGENT, Answering, UrgentBoard


def _timed(fn: object) -> float:
    started = time.monotonic()
    fn()  # type: ignore[operator]
    return time.monotonic() - started


def test_background_work_waits_while_an_answer_is_due_and_goes_on_after() -> None:
    answering = Answering(patience=5.0)
    assert _timed(answering.give_way) < 0.05  # nothing due: no wait
    released = threading.Event()

    def answer() -> None:
        with answering.answering():
            released.wait(5)

    thread = threading.Thread(target=answer)
    thread.start()
    while not answering.due:
        time.sleep(0.001)
    threading.Timer(0.3, released.set).start()
    waited = _timed(answering.give_way)
    thread.join()
    assert 0.25 < waited < 2.0 and answering.waits == 1


def test_a_steady_stream_of_answers_slows_background_work_but_never_stops_it() -> None:
    answering = Answering(patience=0.2)
    with answering.answering():
        assert 0.15 < _timed(answering.give_way) < 1.0


def test_urgent_work_sessions_and_the_event_loop_never_wait() -> None:
    answering = Answering(patience=5.0)
    with answering.answering():
        token = URGENT.set(True)
        try:
            assert _timed(answering.give_way) < 0.05  # Slack waits on this work too
        finally:
            URGENT.reset(token)
        with answering.inside():  # it may hold a lock the answer needs
            assert _timed(answering.give_way) < 0.05

        async def on_the_loop() -> float:
            return _timed(answering.give_way)

        assert asyncio.run(on_the_loop()) < 0.05  # the loop prepares the answers
    assert answering.waits == 0


def test_the_worker_waits_for_the_fronts_urgent_writers_through_the_board(
    tmp_path: Path,
) -> None:
    front = UrgentBoard(str(tmp_path / "bot.db-answering"))
    worker = UrgentBoard(str(tmp_path / "bot.db-answering"), patience=5.0)
    assert _timed(worker.wait_clear) < 0.05
    front.publish(2)
    assert worker.urgent() == 2
    threading.Timer(0.3, front.publish, args=(0,)).start()
    assert 0.25 < _timed(worker.wait_clear) < 2.0
    impatient = UrgentBoard(str(tmp_path / "bot.db-answering"), patience=0.1)
    front.publish(1)
    assert _timed(impatient.wait_clear) < 1.0  # at most its patience
    for board in (front, worker, impatient):
        board.close()
