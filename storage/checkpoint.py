"""SQLite's WAL checkpoints, off every writer's path.

In WAL mode a commit that finds the log past its threshold copies the log into the database
file and syncs it (a checkpoint: tens of milliseconds, far more on a busy disk), while it
still holds the write lock, so every writer queued behind it waits too, answers to Slack
among them. Here no connection checkpoints on commit (`wal_autocheckpoint=0`); a thread of
each process runs a PASSIVE checkpoint at a steady pace instead, which never takes the write
lock and never waits for readers or writers (https://sqlite.org/wal.html#ckpt).
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading

log = logging.getLogger(__name__)


class Checkpointer:
    """A daemon thread that checkpoints one SQLite database every `interval` seconds."""

    def __init__(self, path: str, interval: float = 2.0) -> None:
        self.path = path
        self.interval = interval
        self.checkpoints = 0  # PASSIVE checkpoints that copied frames (for tests)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (once; later calls do nothing: every write transaction calls it)."""
        if self._thread is not None:
            return
        with self._lock:
            if self._thread is not None or self._stop.is_set():
                return
            self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Stop the thread after one last checkpoint."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def checkpoint(self, conn: sqlite3.Connection) -> int:
        """One PASSIVE checkpoint; returns the frames it copied into the database."""
        _busy, _log, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        if copied > 0:
            self.checkpoints += 1
        return int(copied)

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
        except sqlite3.Error as exc:
            log.warning("WAL checkpoints stopped: %s", exc)
            return
        seen: tuple[int, int] | None = None  # the log's size and time at the last checkpoint
        try:
            while True:
                stopping = self._stop.wait(self.interval)
                try:
                    log_file = os.stat(f"{self.path}-wal")
                    now = (log_file.st_size, log_file.st_mtime_ns)
                except OSError:
                    now = None
                if now == seen:  # nothing written since the last one
                    if stopping:
                        return
                    continue
                seen = now
                try:
                    self.checkpoint(conn)
                except sqlite3.Error as exc:  # the file went away (a test's), or is locked
                    if "locked" not in str(exc) and "busy" not in str(exc):
                        log.debug("WAL checkpoint failed: %s", exc)
                        return
                if stopping:
                    return
        finally:
            conn.close()
