"""The journal: on SQLite, a request answered at once is kept in a file before its answer.

SQLite has one write lock. Keeping each request in the inbox before its answer means the
answer waits for that lock behind every transaction of the processing (and of the
processing worker, web/handoff.py). So over HTTP on a SQLite file, an event, a command, a
button press or a shortcut is appended to a file of this process, one `write()` each, and
answered; right after, it is moved into the inbox (with those moved meanwhile, in one
statement: web/group_commit.py) and processed from there as before.

The file is as durable as the database beside it: SQLite commits here without waiting for
the disk (`synchronous=NORMAL`), so both survive the process being killed and neither
promises more against a power cut.

Each process writes a file of its own, `<database>-kept.<n>`, held with `flock` as long as
the process lives. The file is emptied whenever every line in it is in the inbox. What a
process that died left in its file is moved into the inbox by the sweep of the next process
that takes the file, or of any process that finds it unheld (`Journal.recover`); those rows
are leased to nobody alive, so the same sweep processes them. A line whose key is in the
inbox already (moved before the crash, or a retry from Slack) is not kept twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import glob
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator

from web.intake_work import Kept

log = logging.getLogger(__name__)

MAX_FILES = 64  # processes writing journals beside one database at a time
SUFFIX = "-kept."


class JournalFull(OSError):
    """The line could not be written whole (the disk is full, most likely)."""


class Recovered:
    """Lines found in a journal, to be moved into the inbox; then `settle(moved)`."""

    def __init__(self, path: str, lines: list[Kept], settle: Callable[[bool], None]) -> None:
        self.path = path
        self.lines = lines
        self.settle = settle


def _line(kept: Kept) -> bytes:
    record = {
        "kind": kept.kind,
        "key": kept.key,
        "mode": kept.mode,
        "content_type": kept.content_type,
        "body": kept.body,
    }
    # A line begins with its newline: a line cut short (a write the disk refused in part)
    # cannot run into the next one, and is skipped when read back as not JSON.
    return b"\n" + json.dumps(record, separators=(",", ":")).encode()


def _read(fd: int, path: str) -> list[Kept]:
    data = b""
    while True:
        chunk = os.pread(fd, 1 << 20, len(data))
        if not chunk:
            break
        data += chunk
    found: list[Kept] = []
    for raw in data.split(b"\n"):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
            found.append(
                Kept(
                    str(record["kind"]),
                    str(record["key"]),
                    str(record["mode"]),
                    str(record["content_type"]),
                    str(record["body"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            log.warning(
                "skipped a line of %s that is not a whole request (%s bytes)", path, len(raw)
            )
    return found


def _lock(path: str) -> int | None:
    """Open and hold `path` (created if missing); None if another process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def lines_beside(database: str) -> list[Kept]:
    """Every line in the journals beside `database`, held or not (a look: tests, support)."""
    found: list[Kept] = []
    base = database + SUFFIX
    for path in sorted(glob.glob(f"{glob.escape(base)}*")):
        if path[len(base) :].isdigit():
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                found += _read(fd, path)
            finally:
                os.close(fd)
    return found


class Journal:
    """This process's journal file beside the SQLite database at `database`."""

    def __init__(self, database: str) -> None:
        self.base = database + SUFFIX
        self._lock = threading.Lock()
        self._pending = 0  # lines written and not in the inbox yet
        self._retry: list[Kept] = []  # lines whose move failed: the sweep moves them
        for n in range(MAX_FILES):
            fd = _lock(f"{self.base}{n}")
            if fd is not None:
                self.fd, self.path = fd, f"{self.base}{n}"
                break
        else:
            raise OSError(f"{MAX_FILES} processes hold journals beside {database}")
        self._left = _read(self.fd, self.path)  # a process before this one died with these
        self._pending = len(self._left)
        if self._pending == 0:
            os.ftruncate(self.fd, 0)  # (lines that were not whole)

    @property
    def pending(self) -> int:
        """Lines written and not in the inbox yet."""
        return self._pending

    def write(self, kept: Kept) -> bool:
        """Keep `kept` (on the answer's path: one `write()`); False, logged, when the disk
        refused it (then keep it in the inbox before the answer)."""
        line = _line(kept)
        try:
            with self._lock:
                written = os.write(self.fd, line)
                if written != len(line):
                    raise JournalFull(f"wrote {written} of {len(line)} bytes to {self.path}")
                self._pending += 1
        except OSError as exc:
            log.error("could not write to the journal: %s", exc)
            return False
        return True

    @contextlib.contextmanager
    def moving(self, kept: Kept) -> Iterator[None]:
        """Around the move of a line into the inbox: once it is there, `moved`; if the move
        raises, the error is logged and not raised, and the sweep moves it (`move_failed`)."""
        try:
            yield
        except Exception as exc:
            log.error("could not move a %s request into the inbox: %s", kept.kind, exc)
            self.move_failed(kept)
        else:
            self.moved()

    def moved(self, count: int = 1) -> None:
        """`count` lines are in the inbox now; the file is emptied once all of them are."""
        with self._lock:
            self._pending -= count
            if self._pending == 0:
                os.ftruncate(self.fd, 0)

    def move_failed(self, kept: Kept) -> None:
        """The move of `kept` into the inbox failed: the sweep tries again (`recover`)."""
        with self._lock:
            self._retry.append(kept)

    def recover(self) -> list[Recovered]:
        """What the sweep is to move into the inbox: what this file held when it was taken,
        the lines whose move failed, and the files of processes that died (held until
        settled). Each must be settled: `settle(True)` once its lines are in the inbox."""
        found: list[Recovered] = []
        with self._lock:
            mine, self._left, self._retry = self._left + self._retry, [], []
        if mine:

            def settle_mine(moved: bool, lines: list[Kept] = mine) -> None:
                if moved:
                    self.moved(len(lines))
                else:
                    with self._lock:
                        self._retry[:0] = lines

            found.append(Recovered(self.path, mine, settle_mine))
        for path in sorted(glob.glob(f"{glob.escape(self.base)}*")):
            if path == self.path or not path[len(self.base) :].isdigit():
                continue
            fd = _lock(path)
            if fd is None:  # a live process's
                continue
            lines = _read(fd, path)
            if not lines:
                os.ftruncate(fd, 0)
                os.close(fd)
                continue

            def settle_theirs(moved: bool, fd: int = fd) -> None:
                if moved:
                    os.ftruncate(fd, 0)
                os.close(fd)

            found.append(Recovered(path, lines, settle_theirs))
        return found

    def close(self) -> None:
        """Let the file go (at shutdown); what is still in it is recovered at the next start."""
        with self._lock:
            if self._pending == 0:
                with contextlib.suppress(OSError):
                    os.ftruncate(self.fd, 0)
            os.close(self.fd)
