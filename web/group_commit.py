"""Group commit: requests that arrive while a commit runs are written together in the next.

Every command, interaction and event is kept in the inbox before Slack gets its answer: one
short write transaction each. Under a burst those transactions queue (SQLite has one writer;
PostgreSQL flushes its log at every commit), so each answer waits for the commits of all
the requests before it. Here the first request to arrive writes at once, alone; requests
that arrive while a commit runs join one batch, written by one of them in one transaction
when that commit is over. No request waits longer than it would have, and a burst of 50
costs a few commits instead of 50.

Threads call `write`, which blocks; the event loop awaits `write_async`, which borrows no
thread per request: the first of a batch has it written on `executor`, and every request of
the batch that waits on the loop is answered in one call there.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Batch(Generic[T, R]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.results: Sequence[R] = ()
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.on_loop: list[tuple[int, asyncio.Future[R]]] = []  # (index, future) of write_async


class GroupCommit(Generic[T, R]):
    """Writes items in batches with `write_many` (one transaction per batch, results in
    order); `write(item)` returns the item's result, or raises what its batch raised."""

    def __init__(self, write_many: Callable[[list[T]], Sequence[R]]) -> None:
        self._write_many = write_many
        self._lock = threading.Lock()  # guards the open batch
        self._committing = threading.Lock()  # one batch written at a time
        self._open: _Batch[T, R] | None = None
        self.batches = 0  # batches written, for tests and benchmarks

    def _join(self, item: T) -> tuple[_Batch[T, R], int, bool]:
        """Add `item` to the open batch (a new one if none): the batch, its index, and
        whether it is the first (which has the batch written)."""
        batch = self._open
        leader = batch is None
        if batch is None:
            batch = self._open = _Batch()
        batch.items.append(item)
        return batch, len(batch.items) - 1, leader

    def _commit(self, batch: _Batch[T, R]) -> None:
        with self._committing:
            with self._lock:
                self._open = None  # later arrivals start the next batch
            try:
                batch.results = self._write_many(batch.items)
                self.batches += 1
            except BaseException as exc:
                batch.error = exc
            finally:
                batch.done.set()
        if batch.on_loop:
            loop = batch.on_loop[0][1].get_loop()
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
                loop.call_soon_threadsafe(_settle, batch)

    def write(self, item: T) -> R:
        with self._lock:
            batch, index, leader = self._join(item)
        if leader:
            self._commit(batch)
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.results[index]

    async def write_async(self, item: T, executor: Executor) -> R:
        """`write` for the event loop: the batch is written on `executor`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        with self._lock:
            batch, index, leader = self._join(item)
            batch.on_loop.append((index, future))
        if leader:
            executor.submit(self._commit, batch)
        return await future


def _settle(batch: _Batch[T, R]) -> None:
    for index, future in batch.on_loop:
        if future.done():
            continue
        if batch.error is not None:
            future.set_exception(batch.error)
        else:
            future.set_result(batch.results[index])
