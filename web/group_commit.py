"""Group commit: requests that arrive while a commit runs are written together in the next.

Every command, interaction and event is kept in the inbox before Slack gets its answer: one
short write transaction each. Under a burst those transactions queue (SQLite has one writer;
PostgreSQL flushes its log at every commit), so each answer waits for the commits of all
the requests before it. Here the first request to arrive writes at once, alone; requests
that arrive while a commit runs join one batch, written by one of them in one transaction
when that commit is over. No request waits longer than it would have, and a burst of 50
costs a few commits instead of 50.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Batch(Generic[T, R]):
    def __init__(self) -> None:
        self.items: list[T] = []
        self.results: Sequence[R] = ()
        self.error: BaseException | None = None
        self.done = threading.Event()


class GroupCommit(Generic[T, R]):
    """Writes items in batches with `write_many` (one transaction per batch, results in
    order); `write(item)` returns the item's result, or raises what its batch raised."""

    def __init__(self, write_many: Callable[[list[T]], Sequence[R]]) -> None:
        self._write_many = write_many
        self._lock = threading.Lock()  # guards the open batch
        self._committing = threading.Lock()  # one batch written at a time
        self._open: _Batch[T, R] | None = None
        self.batches = 0  # batches written, for tests and benchmarks

    def write(self, item: T) -> R:
        with self._lock:
            batch = self._open
            leader = batch is None
            if batch is None:
                batch = self._open = _Batch()
            index = len(batch.items)
            batch.items.append(item)
        if leader:
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
        else:
            batch.done.wait()
        if batch.error is not None:
            raise batch.error
        return batch.results[index]
