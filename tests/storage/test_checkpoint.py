"""SQLite's WAL checkpoints run in a thread of their own, never in a writer's commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from storage import Database
from storage.models import EventReceipt


def _wal_frames(path: Path) -> int:
    """Frames in the log now (a PASSIVE checkpoint reports them, and copies what it can)."""
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])
    finally:
        conn.close()


def test_commits_leave_the_log_to_the_checkpoint_thread(tmp_path: Path) -> None:
    path = tmp_path / "bot.db"
    db = Database(f"sqlite:///{path}")
    try:
        db.migrate()
        with db.engine.connect() as conn:  # no connection checkpoints when it commits
            assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
        checkpoints = db._checkpoints
        assert checkpoints is not None
        for n in range(300):
            with db.session() as session:
                session.add(EventReceipt(event_id=f"Ev{n}", event_type="reaction_added"))
        deadline = time.monotonic() + 5
        while checkpoints.checkpoints == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert checkpoints.checkpoints > 0  # the thread copied the log into the database
        with db.session() as session:  # a writer after a checkpoint starts the log over
            session.add(EventReceipt(event_id="Ev-last", event_type="reaction_added"))
        assert _wal_frames(path) < 50  # (300 commits wrote hundreds of frames)
    finally:
        db.dispose()
    assert checkpoints._thread is not None and not checkpoints._thread.is_alive()
