"""bench/statuspage_load.py keeps working (tiny run; the figures come from the full run by hand)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.scenario
def test_tiny_run_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.statuspage_load", "--tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    gets = figures["gets"]
    assert gets["requests"] > 100 and set(gets["statuses"]) == {"200"}
    for phase in ("acks_alone", "acks_under_load"):
        assert figures[phase]["statuses"] == {"200": figures[phase]["requests"]}
        assert figures[phase]["p50_ms"] > 0
    assert set(figures["targets"]) == {
        "gets_per_second_at_least_2000",
        "gets_p99_below_50_ms",
        "ack_p50_within_1_5x",
        "ack_p95_within_1_5x",
    }
    assert "status page GETs:" in done.stdout
