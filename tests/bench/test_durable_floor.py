"""The durable floor (bench/durable_floor.py) keeps working at a tiny size."""

from __future__ import annotations

import json

import psycopg
import pytest

from bench import durable_floor
from bench.baseline_app import KEEP_TABLE


@pytest.mark.scenario
def test_a_tiny_run_measures_three_apps_and_the_floor_keeps_each_request_once(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    if not db_url.startswith("postgresql"):
        with pytest.raises(SystemExit, match="must be PostgreSQL"):
            durable_floor.main(["--database-url", db_url])
        return
    argv = ["--database-url", db_url, "--rounds", "1", "--requests", "10", "--json"]
    assert durable_floor.main(argv) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert "| median |" in "\n".join(out)
    for app in durable_floor.APPS:
        (only,) = figures["rounds"][app]
        assert only["statuses"] == {"200": 10}, app
        assert 0 < only["p50_ms"] <= only["p99_ms"]
    assert set(figures["p99_ratio_to_baseline"]) == {"bot", "floor"}
    # The floor kept every request it answered, once: a warm-up round and one counted round,
    # each of 5 untimed and 10 timed reactions.
    with psycopg.connect(durable_floor.libpq_url(db_url)) as connection:
        kept = connection.execute(f"SELECT count(*), count(DISTINCT key) FROM {KEEP_TABLE}")
        assert kept.fetchone() == (30, 30)
