"""Group commit: requests arriving while a commit runs are written together, results in order."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from web.group_commit import GroupCommit


def test_a_lone_write_goes_at_once_and_a_burst_shares_commits() -> None:
    first_started, release = threading.Event(), threading.Event()
    batches: list[list[int]] = []

    def write_many(items: list[int]) -> list[int]:
        batches.append(list(items))
        if len(batches) == 1:
            first_started.set()
            assert release.wait(5)
        return [n * 10 for n in items]

    group: GroupCommit[int, int] = GroupCommit(write_many)
    with ThreadPoolExecutor(max_workers=20) as pool:
        first = pool.submit(group.write, 0)
        assert first_started.wait(5)  # written alone, at once
        rest = [pool.submit(group.write, n) for n in range(1, 20)]
        while sum(len(b) for b in batches) + len(group._open.items if group._open else []) < 20:
            threading.Event().wait(0.01)  # every other write waits for the first commit
        release.set()
        assert first.result(5) == 0
        assert [f.result(5) for f in rest] == [n * 10 for n in range(1, 20)]
    assert batches[0] == [0]
    assert sorted(n for b in batches[1:] for n in b) == list(range(1, 20))
    assert len(batches) == 2 and group.batches == 2  # 19 writes, one commit


def test_a_failed_batch_fails_each_of_its_writes_and_the_next_batch_goes_on() -> None:
    calls = 0

    def write_many(items: list[str]) -> list[str]:
        nonlocal calls
        calls += 1
        if "bad" in items:
            raise RuntimeError("database is locked")
        return items

    group: GroupCommit[str, str] = GroupCommit(write_many)
    with pytest.raises(RuntimeError, match="locked"):
        group.write("bad")
    assert group.write("good") == "good"
    assert calls == 2


def test_writes_from_the_event_loop_share_batches_and_get_their_results_or_errors() -> None:
    import asyncio

    batches: list[list[str]] = []

    def write_many(items: list[str]) -> list[str]:
        batches.append(list(items))
        if "bad" in items:
            raise RuntimeError("database is locked")
        return [item.upper() for item in items]

    group: GroupCommit[str, str] = GroupCommit(write_many)

    async def main() -> None:
        with ThreadPoolExecutor(max_workers=1) as writer:
            results = await asyncio.gather(*(group.write_async(f"r{n}", writer) for n in range(30)))
            assert results == [f"R{n}" for n in range(30)]
            assert len(batches) < 30  # the first alone, the rest together
            with pytest.raises(RuntimeError, match="locked"):
                await group.write_async("bad", writer)

    asyncio.run(main())
    assert group.batches == len(batches) - 1
