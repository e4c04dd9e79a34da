"""`python -m bench.declare_e2e` keeps working: every part of a declaration is timed (behind
a backlog of other declarations too)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.declare_e2e import PARTS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.scenario
def test_a_small_run_times_all_six_parts_behind_a_backlog() -> None:
    argv = ["--declares", "2", "--latency", "0.05", "--backlog", "3"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.declare_e2e", *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("Declare end to end, 2 declarations")
    assert lines[0].endswith("behind a backlog of 3 declared at once:")
    for part in (*PARTS, "all six"):
        [line] = [x for x in lines if x.strip().startswith(part + " ")]
        assert "p50" in line and "max" in line
