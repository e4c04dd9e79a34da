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
