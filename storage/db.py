"""Engine and session handling for SQLite (default) and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, create_engine

from storage.answering import ANSWERING, URGENT, UrgentBoard
from storage.checkpoint import Checkpointer
from storage.turns import BackgroundGate, WriteQueue

log = logging.getLogger(__name__)
T = TypeVar("T")


def normalize_url(url: str) -> str:
    """Map the URLs people write (postgresql://, postgres://) to the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def in_memory(url: str) -> bool:
    """True for a SQLite database that lives in this process's memory only."""
    return url in ("sqlite://", "sqlite:///:memory:")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not pysqlite, decide when transactions begin (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # No commit copies the log into the database: storage/checkpoint.py does, off the lock.
    cursor.execute("PRAGMA wal_autocheckpoint=0")
    cursor.close()


READ_ONLY = "incident_bot_read_only"  # execution option set by Database.read()
DEFAULT_URL = "sqlite:///./incident-bot.db"  # the bot's default DATABASE_URL
URGENT_CONNECTIONS = 10  # connections kept open for work Slack waits on (URGENT)
BACKGROUND_SESSIONS = 6  # PostgreSQL: sessions of background work at a time (BackgroundGate)
_WROTE = "incident_bot_wrote"  # connection info: this transaction inserted, updated or deleted

# Called in every write transaction of Database.session() before it commits, while set (the
# processing of one request from Slack sets it: see bot/core/inbox.py). It may add statements
# to the transaction, or raise to roll it back; what it returns is called once it committed.
WRITE_FENCE: ContextVar[Callable[[Session], Callable[[], None] | None] | None] = ContextVar(
    "incident_bot_write_fence", default=None
)


class Rider:
    """A write that rides in the transaction that keeps a request in the inbox (see
    web/intake.py): the count of a rate limit, say, committed with the request itself
    instead of in a transaction of its own. It runs at most once; it may raise to roll
    that transaction back (the request is then not kept, and answered with the reason).

    `spec` says what it writes as plain data, for another process that keeps the request
    (the processing worker, web/handoff.py) to build the same rider and run it there."""

    def __init__(
        self,
        write: Callable[[Session], None],
        look: Callable[[Session, str], None] | None = None,
        looked_over: Callable[[str], None] | None = None,
        spec: dict[str, str] | None = None,
    ) -> None:
        self._write: Callable[[Session], None] | None = write
        self._look = look
        self._looked_over = looked_over
        self._looked: str | None = None  # the key of the request `look` let through
        self.spec = spec

    def run(self, session: Session) -> None:
        write, self._write = self._write, None
        if write is not None:
            write(session)

    def look(self, session: Session, key: str) -> None:
        """Check what `run` will write, in a read-only `session`, when the request (inbox
        key `key`) is kept before that write (web/journal.py); may raise as `run` would."""
        if self._look is not None:
            try:
                self._look(session, key)
            except BaseException:
                self._write = None  # refused: the request is answered with the reason
                raise
            self._looked = key

    def ended(self) -> None:
        """The transaction that ran `run` committed or rolled back: what `look` let through
        is in the database now, or never will be (`looked_over`)."""
        key, self._looked = self._looked, None
        if key is not None and self._looked_over is not None:
            self._looked_over(key)


# The rider of the request processed in this context (set by the gate, run by the intake).
RIDER: ContextVar[Rider | None] = ContextVar("incident_bot_rider", default=None)


@contextmanager
def unfenced() -> Iterator[None]:
    """Write transactions in this block are not the request's own work (a rate limit's
    bookkeeping, say): the fence does not see them, so they do not count as the request's
    first write (a request processed again after a crash is then run again in full)."""
    token = WRITE_FENCE.set(None)
    try:
        yield
    finally:
        WRITE_FENCE.reset(token)


def _forget_writes(conn: Any) -> None:
    conn.info.pop(_WROTE, None)


def _note_write(
    conn: Any, _cursor: Any, _statement: Any, _params: Any, context: Any, _many: bool
) -> None:
    if context is not None and (context.isinsert or context.isupdate or context.isdelete):
        conn.info[_WROTE] = True


def _sqlite_begin(conn: Any) -> None:
    # Writers take the write lock at BEGIN: a deferred transaction that later writes can fail
    # with SQLITE_BUSY at once (busy_timeout does not apply to lock upgrades in WAL mode).
    # Readers begin deferred: in WAL mode they read a snapshot and never wait for a writer.
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
    else:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    max_overflow: int = 20,
    pre_ping: bool = True,
) -> Engine:
    """Create an engine with the settings each backend needs for a multi-threaded bot."""
    url = normalize_url(url)
    pool = {"pool_size": pool_size, "max_overflow": max_overflow}
    if url.startswith("sqlite"):
        engine = create_engine(
            url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30}, **pool
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    else:
        engine = create_engine(url, echo=echo, pool_pre_ping=pre_ping, **pool)
    event.listen(engine, "begin", _forget_writes)
    event.listen(engine, "after_cursor_execute", _note_write)
    return engine


def _wrote(session: Session) -> bool:
    """True when the session's open transaction has inserted, updated or deleted rows."""
    session.flush()
    if not session.in_transaction():
        return False
    return bool(session.connection().info.get(_WROTE))


class Database:
    """Owns the engine; hands out one session per unit of work."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, echo=echo)
        self._reader = self.engine.execution_options(**{READ_ONLY: True})
        # Work Slack waits on (URGENT) has connections of its own: a backlog of background
        # work holding every pooled connection does not delay an acknowledgement. Enough of
        # them stay open for ten answers at once: past the pool, each answer would open (and
        # then close) a connection of its own, a new server process on PostgreSQL.
        memory_only = in_memory(self.url)
        self._urgent = (
            self.engine
            if memory_only
            else make_engine(self.url, echo=echo, pool_size=URGENT_CONNECTIONS, max_overflow=6)
        )
        self._urgent_reader = self._urgent.execution_options(**{READ_ONLY: True})
        self._keeper: Engine | None = None  # PostgreSQL: one_statement()'s connections
        if self._urgent.dialect.name == "postgresql":
            self._keeper = make_engine(
                self.url, echo=echo, pool_size=4, max_overflow=6, pre_ping=False
            ).execution_options(isolation_level="AUTOCOMMIT")
        # SQLite has one writer at a time. Threads of this process queue for it here and are
        # woken as soon as it is free, instead of in SQLite's busy handler, which sleeps up to
        # 100 ms between tries and so leaves the lock idle under contention.
        self._write_lock = WriteQueue() if self.engine.dialect.name == "sqlite" else None
        self._checkpoints: Checkpointer | None = None
        self._gate = BackgroundGate(BACKGROUND_SESSIONS) if self._write_lock is None else None
        if self._write_lock is not None and not memory_only:  # beside a processing worker
            path = self.engine.url.database
            if path:
                self._write_lock.board = UrgentBoard(f"{path}-answering")
                self._write_lock.share_between_processes(f"{path}-writer")
                self._checkpoints = Checkpointer(path)

    def defer_to_front(self) -> None:
        """In a processing worker (web/handoff.py): on SQLite, write only while the front
        has no writer Slack waits on (storage/answering.UrgentBoard)."""
        if self._write_lock is not None:
            self._write_lock.defer = True

    @property
    def sqlite_file(self) -> str | None:
        """The SQLite database's file (None on PostgreSQL and in memory)."""
        if not self.is_sqlite or in_memory(self.url):
            return None
        return self.engine.url.database or None

    @property
    def is_sqlite(self) -> bool:
        """True for the SQLite backend."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def _writing(self) -> Iterator[Engine]:
        """Around a write transaction: give way to answers first, then hold this process's
        turn (SQLite's write queue, PostgreSQL's background gate); yields the engine to use."""
        ANSWERING.give_way()
        if self._checkpoints is not None:
            self._checkpoints.start()
        lock = self._write_lock.held() if self._write_lock is not None else nullcontext()
        gate = self._gate.held() if self._gate is not None else nullcontext()
        with ANSWERING.inside(), gate, lock:
            yield self._urgent if URGENT.get() else self.engine

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block succeeds and rolls back when it raises."""
        with self._writing() as bind, Session(bind, expire_on_commit=False) as session:
            try:
                yield session
                fence = WRITE_FENCE.get()
                committed = fence(session) if fence is not None and _wrote(session) else None
                session.commit()
                if committed is not None:
                    committed()
            except BaseException:
                session.rollback()
                raise

    @contextmanager
    def connection(self) -> Iterator[Connection]:
        """A Core connection in a write transaction that commits when the block succeeds: for
        the inbox keep on every acknowledgement's path, which needs no ORM session. Writes
        here are not fenced (WRITE_FENCE)."""
        with self._writing() as bind, bind.begin() as conn:
            yield conn

    def one_statement(self, statement: Callable[[Connection], T]) -> T:
        """Run `statement(connection)`, one statement that commits by itself, for the inbox keep
        on every acknowledgement's path.

        On PostgreSQL that is one round trip in autocommit (no BEGIN, no COMMIT, and no ping
        when the connection is taken from the pool: a connection found broken is retried once
        on a new one, which the statement must allow). On SQLite it is a transaction of its
        own in this process's turn (`connection`)."""
        if self._keeper is None:
            with self.connection() as conn:
                return statement(conn)
        for attempt in (1, 2):
            try:
                with self._keeper.connect() as conn:
                    return statement(conn)
            except DBAPIError as exc:
                if attempt == 2 or not exc.connection_invalidated:
                    raise
                log.warning("retrying a keep on a new connection: %s", type(exc.orig).__name__)
        raise AssertionError("unreachable")

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only: it never waits for writers (SQLite reads a snapshot).

        Writing in it is a bug; SQLite may refuse the write with "database is locked".
        """
        ANSWERING.give_way()
        reader = self._urgent_reader if URGENT.get() else self._reader
        gate = self._gate.held() if self._gate is not None else nullcontext()
        with ANSWERING.inside(), gate, Session(reader, expire_on_commit=False) as session:
            yield session
            session.commit()  # ends the read transaction; loaded objects stay readable

    def ping(self) -> bool:
        """True when the database answers a trivial query."""
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def migrate(self) -> None:
        """Apply every pending Alembic migration."""
        from storage.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        """Close every pooled connection."""
        if self._checkpoints is not None:
            self._checkpoints.stop()
        self.engine.dispose()
        self._urgent.dispose()
        if self._keeper is not None:
            self._keeper.dispose()
        if self._write_lock is not None:
            self._write_lock.close()
