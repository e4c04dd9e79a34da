"""The inbox keep from the event loop on PostgreSQL (web/async_keep.py): one write for the
first request, the ones arriving meanwhile together in the next, each key kept once, a
broken connection retried, and a failure given to every request of its batch."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import select

from storage import Database
from storage.models_inbox import InboxRequest
from web.async_keep import AsyncKeep

LEASE = timedelta(seconds=30)


@pytest.fixture
def keep(db: Database) -> AsyncKeep:
    if db.is_sqlite:
        pytest.skip("PostgreSQL only: on SQLite the journal keeps (tests/web/test_journal.py)")
    return AsyncKeep(db.url, lease=LEASE)


def _row(key: str, owner: str = "front") -> tuple[str, str, str, str, str, str]:
    return (key, "events_api", "http", "application/json", '{"text": "ünïcode"}', owner)


def _kept(db: Database, row_id: int) -> InboxRequest:
    with db.read() as session:
        row = session.get(InboxRequest, row_id)
    assert row is not None
    return row


def test_requests_arriving_together_share_a_write_and_each_key_is_kept_once(
    db: Database, keep: AsyncKeep
) -> None:
    async def burst() -> list[int | None]:
        first = asyncio.ensure_future(keep.keep(_row("event:Ev0")))
        await asyncio.sleep(0)  # the first is being written alone ...
        rest = [keep.keep(_row(f"event:Ev{n % 20}", owner=f"o{n}")) for n in range(1, 40)]
        return [await first, *await asyncio.gather(*rest)]  # ... the rest join batches

    found = asyncio.run(burst())
    assert 2 <= keep.batches < 40, keep.batches
    assert found[0] is not None and all(f is None for f in found[20:])  # keys seen before
    ids = [f for f in found[:20] if f is not None]
    assert len(ids) == 20 == len(set(ids))
    row = _kept(db, ids[5])
    assert (row.key, row.lease_owner, row.attempts, row.body) == (
        "event:Ev5",
        "o5",
        1,
        '{"text": "ünïcode"}',
    )
    assert row.lease_until is not None and row.lease_until - row.received_at == LEASE
    assert asyncio.run(keep.keep(_row("event:Ev5"))) is None  # a retry from Slack
    keep.close()


def test_a_connection_the_server_dropped_is_opened_again(db: Database, keep: AsyncKeep) -> None:
    async def pid_of_keep() -> int:
        await keep.keep(_row("event:EvFirst"))
        connection = keep._connection
        assert connection is not None
        return connection.info.backend_pid

    pid = asyncio.run(pid_of_keep())
    with db.engine.connect() as admin:
        admin.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
    found = asyncio.run(keep.keep(_row("event:EvAfter")))
    assert found is not None and _kept(db, found).key == "event:EvAfter"
    keep.close()


def test_a_failed_write_fails_every_request_of_its_batch_and_not_the_next(
    db: Database, keep: AsyncKeep
) -> None:
    async def burst() -> list[int | BaseException | None]:
        rows = [keep.keep(_row(f"event:EvX{n}")) for n in range(5)]
        return await asyncio.gather(*rows, return_exceptions=True)

    with db.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE inbox_request RENAME TO inbox_request_away")
    try:
        failed = asyncio.run(burst())
    finally:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE inbox_request_away RENAME TO inbox_request")
    assert all(isinstance(f, SQLAlchemyError) for f in failed), failed
    assert asyncio.run(keep.keep(_row("event:EvX0"))) is not None  # nothing was kept before
    keep.close()


def test_a_value_too_long_for_its_column_fails_its_batch_and_is_not_cut_short(
    db: Database, keep: AsyncKeep
) -> None:
    # A batch binds one array per column (inbox.keep_many_statement): the arrays' strings
    # are unbounded, so the column's own length is checked by the INSERT, as for one row.
    async def burst() -> list[int | BaseException | None]:
        first = asyncio.ensure_future(keep.keep(_row("event:EvLong0")))
        await asyncio.sleep(0)  # written alone; the next three share a batch
        rows = [keep.keep(_row("event:EvLong1")), keep.keep(_row("event:" + "x" * 120))]
        rows.append(keep.keep(_row("event:EvLong2")))
        return [await first, *await asyncio.gather(*rows, return_exceptions=True)]

    found = asyncio.run(burst())
    assert isinstance(found[0], int), found
    assert keep.batches == 1  # (writes that failed are not counted)
    assert all(isinstance(f, SQLAlchemyError) for f in found[1:]), found
    with db.read() as session:
        keys = {row.key for row in session.exec(select(InboxRequest)).all()}
    assert keys == {"event:EvLong0"}
    keep.close()
