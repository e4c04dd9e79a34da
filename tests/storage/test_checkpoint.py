"""SQLite's WAL checkpoints run in a thread of their own, never in a writer's commit."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from storage import Database
from storage.models import EventReceipt


def _rows_in_the_database_file(path: Path) -> int:
    """Rows of event_receipt in the database file itself, leaving out the log (immutable)."""
    conn = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(conn.execute("SELECT count(*) FROM event_receipt").fetchone()[0])
    except sqlite3.OperationalError:  # no such table: the migration is still in the log
        return 0
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
        deadline = time.monotonic() + 10  # the thread copies the log into the database
        while _rows_in_the_database_file(path) < 300 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _rows_in_the_database_file(path) == 300
        assert checkpoints.checkpoints > 0
    finally:
        db.dispose()
    assert checkpoints._thread is not None and not checkpoints._thread.is_alive()
