"""The journal file (web/journal.py): what is written survives its writer, once.

A second `Journal` beside the same database stands for a second process: `flock` locks
belong to open files, so it cannot take a file the first one holds, and closing the first
one's file without emptying it is what the kernel does when a process is killed.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from web.intake_work import Kept
from web.journal import Journal


def _kept(n: int, body: str = "") -> Kept:
    return Kept("events_api", f"Ev{n:04d}", "http", "application/json", body or f'{{"n": {n}}}')


def _killed(journal: Journal) -> None:
    os.close(journal.fd)  # the process died: its lock goes, its file stays as it was


def test_the_file_is_emptied_once_every_line_is_in_the_inbox(tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "bot.db"))
    assert journal.path == str(tmp_path / "bot.db-kept.0")
    journal.write(_kept(1))
    journal.write(_kept(2, body='{"text": "a \\"quoted\\" line\\nand a second one"}'))
    assert journal.pending == 2 and os.path.getsize(journal.path) > 0
    journal.moved()
    assert os.path.getsize(journal.path) > 0, "one line is not in the inbox yet"
    journal.moved()
    assert journal.pending == 0 and os.path.getsize(journal.path) == 0
    journal.write(_kept(3))  # written at the start of the emptied file
    assert Path(journal.path).read_bytes().count(b"\n") == 1
    journal.close()


def test_what_a_killed_process_wrote_is_recovered_by_the_next_one(tmp_path: Path) -> None:
    database = str(tmp_path / "bot.db")
    first = Journal(database)
    bodies = ['{"n": 1}', "token=x&text=%2Fincident+help", '{"text": "ünïcode ✓"}']
    for n, body in enumerate(bodies):
        first.write(_kept(n, body))
    first.moved()  # the first line reached the inbox before the kill; the others did not
    _killed(first)

    second = Journal(database)  # takes the same file, and what is in it
    assert second.path == first.path and second.pending == 3
    [found] = second.recover()
    assert [k.body for k in found.lines] == bodies  # (the inbox skips the one it has)
    assert [k.key for k in found.lines] == ["Ev0000", "Ev0001", "Ev0002"]
    found.settle(True)
    assert second.pending == 0 and os.path.getsize(second.path) == 0
    assert second.recover() == []
    second.close()


def test_a_live_process_recovers_the_file_of_a_dead_one_and_leaves_a_live_ones(
    tmp_path: Path,
) -> None:
    database = str(tmp_path / "bot.db")
    dead, alive, finder = Journal(database), Journal(database), Journal(database)
    assert [j.path[-1] for j in (dead, alive, finder)] == ["0", "1", "2"]
    dead.write(_kept(1))
    alive.write(_kept(2))
    _killed(dead)
    [found] = finder.recover()
    assert found.path == dead.path and [k.key for k in found.lines] == ["Ev0001"]
    found.settle(False)  # the inbox refused them: left as they were, for the next sweep
    [again] = finder.recover()
    assert [k.key for k in again.lines] == ["Ev0001"]
    again.settle(True)
    assert os.path.getsize(dead.path) == 0 and finder.recover() == []
    assert os.path.getsize(alive.path) > 0, "a live process's file is its own"
    alive.close()
    finder.close()


def test_a_line_whose_move_failed_is_given_to_the_sweep_and_kept_until_then(
    tmp_path: Path,
) -> None:
    journal = Journal(str(tmp_path / "bot.db"))
    journal.write(_kept(1))
    journal.move_failed(_kept(1))
    [found] = journal.recover()
    found.settle(False)  # failed again: still to be moved
    assert os.path.getsize(journal.path) > 0
    [found] = journal.recover()
    assert [k.key for k in found.lines] == ["Ev0001"]
    found.settle(True)
    assert journal.pending == 0 and os.path.getsize(journal.path) == 0
    journal.close()


def test_a_line_cut_short_is_skipped_and_the_next_one_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = str(tmp_path / "bot.db")
    first = Journal(database)
    first.write(_kept(1))
    with open(first.path, "ab") as file:  # a write the disk took only in part
        file.write(b'\n{"kind": "events_api", "key": "Ev00')
    first.write(_kept(3))
    _killed(first)
    second = Journal(database)
    [found] = second.recover()
    assert [k.key for k in found.lines] == ["Ev0001", "Ev0003"]
    assert any("not a whole request" in r.getMessage() for r in caplog.records)
    found.settle(True)
    second.close()


def test_closing_keeps_what_is_not_in_the_inbox(tmp_path: Path) -> None:
    database = str(tmp_path / "bot.db")
    first = Journal(database)
    first.write(_kept(1))
    first.close()  # shutdown before the move: the next start has it
    second = Journal(database)
    assert [k.key for found in second.recover() for k in found.lines] == ["Ev0001"]
    second.close()
