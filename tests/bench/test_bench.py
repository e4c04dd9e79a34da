"""The benchmark keeps working: `python -m bench --tiny` end to end, and its arithmetic."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import report
from bench.load import percentile, summarize
from bench.run import ratios
from bench.traffic import KIND_LABELS, KINDS

ROOT = Path(__file__).resolve().parents[2]
FIGURES = ("p50_ms", "p95_ms", "p99_ms", "throughput_rps")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One tiny run of the whole benchmark: its JSON and its printed table."""
    out = tmp_path_factory.mktemp("bench") / "bench.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text()), done.stdout


@pytest.mark.scenario
def test_every_ack_cell_is_measured_for_bot_and_baseline(
    tiny_run: tuple[dict[str, Any], str],
) -> None:
    results, _ = tiny_run
    cells = {(c["condition"], c["kind"], c["concurrency"]) for c in results["ack"]}
    assert cells == {
        (condition, kind, concurrency)
        for condition in ("instant", "slow")
        for kind in KINDS
        for concurrency in (1, 10, 50)
    }
    for cell in results["ack"]:
        for who in ("bot", "baseline"):
            figures = cell[who]
            assert figures["requests"] > 0
            # Every request was acknowledged with 200: none timed out or was refused.
            assert figures["statuses"] == {"200": figures["requests"]}, (cell["kind"], who)
            for key in FIGURES:
                assert figures[key] > 0, (cell["kind"], who, key)
        for key in FIGURES:
            assert cell["ratio"][key] is not None and cell["ratio"][key] > 0
    slow = {c["latency_ms"] for c in results["ack"] if c["condition"] == "slow"}
    assert slow == {results["options"]["slow_latency_ms"]} and slow != {0}


@pytest.mark.scenario
def test_declare_memory_reminders_and_machine_are_reported(
    tiny_run: tuple[dict[str, Any], str],
) -> None:
    results, table = tiny_run
    for condition in ("instant", "slow"):
        e2e = results["declare_e2e"][condition]
        assert e2e["declares"] >= 1
        assert 0 < e2e["ack_p50_ms"] <= e2e["p50_ms"] <= e2e["max_ms"]
    assert results["declare_e2e"]["slow"]["p50_ms"] > results["options"]["slow_latency_ms"]
    for app in ("bot", "baseline"):
        assert results["memory"][app]["VmHWM"] > 10
    reminders = results["reminders"]
    assert "error" not in reminders, reminders
    if "skipped" not in reminders:
        assert reminders["exactly_once"] is True
        assert reminders["idle_tick_ms_mean"] > 0
    for label in KIND_LABELS.values():
        assert table.count(label) >= 6, label  # 3 concurrencies x 2 conditions, + targets
    assert set(results["floor"]) == {"1", "10", "50"}
    assert results["machine"]["cores"] >= 1 and results["machine"]["memory_gb"] > 0
    targets = {t["target"] for t in results["targets"]}
    assert "peak memory of the bot" in targets
    assert "declare end to end p95, instant" in targets
    assert "Acknowledgement latency" in table and "Targets:" in table


def test_percentiles_use_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]
    assert percentile(values, 50) == 50.0
    assert percentile(values, 99) == 99.0
    assert percentile(values, 100) == 100.0
    assert percentile([7.0], 99) == 7.0
    assert percentile([], 99) == 0.0


def test_summary_in_milliseconds_and_requests_per_second() -> None:
    summary = summarize([0.001, 0.002, 0.003, 0.004], 2.0, {"200": 4})
    assert summary["p50_ms"] == 2.0
    assert summary["p99_ms"] == 4.0
    assert summary["throughput_rps"] == 2.0
    assert summary["mean_ms"] == 2.5


def test_ratio_is_bot_over_baseline() -> None:
    bot = {"p50_ms": 30.0, "p95_ms": 40.0, "p99_ms": 60.0, "throughput_rps": 100.0}
    base = {"p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0, "throughput_rps": 0.0}
    assert ratios(bot, base) == {
        "p50_ms": 3.0,
        "p95_ms": 2.0,
        "p99_ms": 2.0,
        "throughput_rps": None,
    }


def _cell(condition: str, concurrency: int, bot_p99: float, ratio_p99: float) -> dict[str, Any]:
    return {
        "condition": condition,
        "latency_ms": 0 if condition == "instant" else 300,
        "kind": "help",
        "concurrency": concurrency,
        "bot": {"p99_ms": bot_p99},
        "ratio": {"p99_ms": ratio_p99},
    }


def test_targets_flag_what_is_missed() -> None:
    results = {
        "ack": [
            _cell("instant", 10, 120.0, 1.2),
            _cell("slow", 50, 900.0, 1.6),
        ],
        "declare_e2e": {"instant": {"p95_ms": 400.0}},
        "memory": {"bot": {"VmHWM": 151.0}},
    }
    verdicts = {t["target"]: t["met"] for t in report.check_targets(results)}
    assert verdicts == {
        "ack p99 / baseline, instant /incident help c=10": True,
        "ack p99, instant /incident help c=10": False,
        "ack p99 / baseline, slow /incident help c=50": False,
        "ack p99, slow /incident help c=50": True,
        "declare end to end p95, instant": True,
        "peak memory of the bot": False,
    }
