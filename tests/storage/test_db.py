"""Engine settings and session behaviour."""

from __future__ import annotations

import pytest
from sqlmodel import select

from storage import Database, normalize_url
from storage.models import EventReceipt
from storage.types import utcnow


def test_normalize_url() -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("sqlite:///x.db") == "sqlite:///x.db"


def test_sqlite_pragmas(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite only")
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_session_commits_and_rolls_back(db: Database) -> None:
    with db.session() as session:
        session.add(EventReceipt(event_id="Ev1", event_type="reaction_added"))
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(EventReceipt(event_id="Ev2", event_type="reaction_added"))
        session.flush()
        raise RuntimeError("boom")
    with db.session() as session:
        ids = session.exec(select(EventReceipt.event_id)).all()
    assert ids == ["Ev1"]


def test_timestamps_come_back_aware_utc(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        session.add(EventReceipt(event_id="Ev3", event_type="x", received_at=now))
    with db.session() as session:
        row = session.get(EventReceipt, "Ev3")
    assert row is not None
    assert row.received_at.tzinfo is not None
    assert abs((row.received_at - now).total_seconds()) < 0.001


def test_ping_reports_unreachable_database() -> None:
    assert not Database("postgresql://nobody@127.0.0.1:1/none").ping()


def test_a_reader_does_not_wait_for_a_writer(db: Database) -> None:
    """While a write transaction is open, read() sees the last committed state at once."""
    import threading
    import time

    with db.session() as session:
        session.add(EventReceipt(event_id="Ev4", event_type="x"))
    writing = threading.Event()
    finish = threading.Event()

    def writer() -> None:
        with db.session() as session:
            session.add(EventReceipt(event_id="Ev5", event_type="x"))
            session.flush()
            writing.set()
            finish.wait(10)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        started = time.monotonic()
        with db.read() as session:
            rows = session.exec(select(EventReceipt)).all()
        assert time.monotonic() - started < 1.0
        assert [row.event_id for row in rows] == ["Ev4"]  # not the uncommitted row
        assert rows[0].event_type == "x"  # still readable after the session closed
    finally:
        finish.set()
        thread.join()
    with db.read() as session:
        assert len(session.exec(select(EventReceipt)).all()) == 2


def test_writers_in_one_process_queue_without_errors(db: Database) -> None:
    """Many threads writing at once all succeed (SQLite: queued on the process's lock)."""
    from concurrent.futures import ThreadPoolExecutor

    def write(n: int) -> None:
        with db.session() as session:
            session.add(EventReceipt(event_id=f"W{n}", event_type="x"))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(write, range(64)))
    with db.read() as session:
        assert len(session.exec(select(EventReceipt)).all()) == 64
