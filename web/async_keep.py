"""PostgreSQL: the inbox keep of a request answered at once, from the event loop itself.

Every event, command, button press and shortcut is kept in the inbox before its answer
(web/intake.py). From the event loop, the thread-based keep (web/group_commit.py) costs a
hop to the keeper thread and one back for each batch, and SQLAlchemy's Python on the way:
more than the statement itself at concurrency 1. Here the loop sends the same statement
(`inbox.keep_statement`, compiled by SQLAlchemy once) on one connection of its own, through
psycopg's async API: the loop goes on answering while PostgreSQL works, and no thread is
involved.

The first request to arrive is written at once, alone; those arriving while a write runs are
written together in the next one, in one statement (`inbox.keep_many_statement`, the
requests as one JSON array): one round trip and one commit for all of them. A
connection found broken is opened again and the write tried once more: a request whose key
was written before the break is found by the retry and not processed twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Any

import psycopg
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.core import inbox
from storage.types import utcnow

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 5  # seconds: a server that cannot be reached fails the keep (a 503)
Row = tuple[str, str, str, str, str, str]  # key, kind, mode, content type, body, owner


def libpq_conninfo(url: str) -> str:
    """libpq's URL for SQLAlchemy's `postgresql+psycopg://…` (or `postgresql://…`)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


class AsyncKeep:
    """The inbox keep on the event loop, for PostgreSQL (see the module)."""

    def __init__(self, url: str, *, lease: timedelta) -> None:
        self._conninfo = libpq_conninfo(url)
        self.lease = lease
        self._sql: dict[bool, str] = {}  # one row, many rows: compiled by SQLAlchemy once
        self._connection: psycopg.AsyncConnection[Any] | None = None
        self._queued: list[tuple[Row, asyncio.Future[int | None]]] = []
        self._writing = False
        self.batches = 0  # writes made, for tests and benchmarks

    async def keep(self, row: Row) -> int | None:
        """Keep one request; its row id, or None when its key is kept already."""
        future: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._queued.append((row, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write_queued())
        return await future

    async def _write_queued(self) -> None:
        try:
            while self._queued:
                batch, self._queued = self._queued, []
                try:
                    found = await self._write([row for row, _ in batch])
                except Exception as exc:
                    error = OperationalError("keeping requests in the inbox", None, exc)
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    continue
                for (_, future), row_id in zip(batch, found, strict=True):
                    if not future.done():
                        future.set_result(row_id)
        finally:
            self._writing = False

    async def _write(self, rows: list[Row]) -> list[int | None]:
        for attempt in (1, 2):
            connection = await self._connect()
            try:
                return await self._insert(connection, rows)
            except psycopg.OperationalError as exc:
                self._connection = None
                if attempt == 2 or not connection.closed:
                    raise
                log.warning("retrying a keep on a new connection: %s", type(exc).__name__)
        raise AssertionError("unreachable")

    async def _connect(self) -> psycopg.AsyncConnection[Any]:
        connection = self._connection
        if connection is None or connection.closed:
            connection = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT
            )
            self._connection = connection
        return connection

    def _statement(self, many: bool, columns: list[str]) -> str:
        found = self._sql.get(many)
        if found is None:
            statement = inbox.keep_many_statement() if many else inbox.keep_statement("postgresql")
            dialect = postgresql.psycopg.dialect()
            found = str(statement.compile(dialect=dialect, column_keys=None if many else columns))
            self._sql[many] = found
        return found

    async def _insert(
        self, connection: psycopg.AsyncConnection[Any], rows: list[Row]
    ) -> list[int | None]:
        now = utcnow()
        if len(rows) == 1:
            values = inbox.new_row(rows[0], lease=self.lease, now=now)
            sql = self._statement(False, list(values))
        else:
            values = inbox.many_params(rows, lease=self.lease, now=now)
            sql = self._statement(True, [])
        # One statement either way, in autocommit: one round trip and one commit for the batch.
        cursor = await connection.execute(sql, values)
        kept: dict[str, int] = {key: row_id for key, row_id in await cursor.fetchall()}
        self.batches += 1
        return inbox.in_order(rows, kept)

    def close(self) -> None:
        """Close the connection (at shutdown, when the event loop may be gone)."""
        connection, self._connection = self._connection, None
        if connection is not None and not connection.closed:
            connection.pgconn.finish()
