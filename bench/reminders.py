"""The reminder tick's cost and lateness, measured by bench/reminders_tick.py.

That benchmark belongs to the reminders work; this runs its `main` in a process of its own
(it hosts its own emulator and database) and summarizes the figures it returns.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from bench.load import percentile
from bench.processes import ROOT

SCRIPT = ROOT / "bench" / "reminders_tick.py"
_CALL = (
    "import json, sys\n"
    "from bench.reminders_tick import main\n"
    "figures = main(sys.argv[1:])\n"
    "print('FIGURES ' + json.dumps(figures, default=str))\n"
)


def run_reminder_tick(
    incidents: int, database_url: str = "", *, tiny: bool = False
) -> dict[str, Any]:
    """Run the reminder-tick benchmark with `incidents` open incidents; returns its figures."""
    if not SCRIPT.exists():
        return {"skipped": "bench/reminders_tick.py is not in this tree"}
    argv = [sys.executable, "-c", _CALL, "--incidents", str(incidents)]
    if tiny:
        argv += ["--window", "2", "--idle-ticks", "5", "--backlog", str(min(20, incidents))]
    if database_url:
        argv += ["--database-url", database_url]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    found = [line for line in done.stdout.splitlines() if line.startswith("FIGURES ")]
    if not found:
        tail = (done.stderr or done.stdout).strip()[-1500:]
        return {"error": f"exit {done.returncode}, no figures: {tail}"}
    return summarize(json.loads(found[-1][len("FIGURES ") :]))


def summarize(figures: dict[str, Any]) -> dict[str, Any]:
    """The figures that matter, without the per-reminder lists."""
    live = figures.get("live", {})
    late = sorted(x * 1000 for x in live.get("lateness", []))
    ticks = sorted(live.get("tick_ms", []))
    idle = figures.get("idle_tick_ms") or [0.0, 0.0]
    summary: dict[str, Any] = {
        "database": figures.get("database"),
        "incidents": figures.get("incidents"),
        "idle_tick_ms_mean": round(idle[0], 2),
        "idle_tick_ms_p95": round(idle[1], 2),
        "idle_tick_statements": figures.get("idle_tick_statements"),
        "reconcile_ms": round(figures.get("reconcile_ms", 0.0), 1),
        "live_seconds": live.get("seconds"),
        "live_due_per_second": round(live.get("due_per_second", 0.0), 2),
        "live_sent": live.get("sent"),
        "live_tick_ms_median": round(percentile(ticks, 50), 1),
        "live_tick_ms_max": round(ticks[-1], 1) if ticks else 0.0,
        "lateness_ms_p50": round(percentile(late, 50)),
        "lateness_ms_p95": round(percentile(late, 95)),
        "lateness_ms_p99": round(percentile(late, 99)),
        "lateness_ms_max": round(late[-1]) if late else 0,
        "exactly_once": figures.get("exactly_once"),
    }
    backlog = figures.get("backlog")
    if backlog:
        summary["backlog_reminders"] = backlog.get("reminders")
        summary["backlog_seconds"] = round(backlog.get("seconds", 0.0), 2)
    return summary
