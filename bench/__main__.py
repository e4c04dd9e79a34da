"""`python -m bench`: the whole benchmark in one run; prints a table and writes JSON.

    .venv/bin/python -m bench                # the full run (about 10 minutes on 2 cores)
    .venv/bin/python -m bench --tiny         # a few requests per figure: what CI runs
    .venv/bin/python -m bench --database-url postgresql://postgres@127.0.0.1/bench

Figures: acknowledgement latency (p50/p95/p99) and throughput of `/incident help`, the
declare form's submission and `reaction_added`, at concurrency 1, 10 and 50, with an
instant emulator and with 300 ms on every Web API call, for the bot and for a bare Bolt
baseline, with their ratio; declare end to end; the reminder tick with 10,000 open
incidents (bench/reminders_tick.py); peak memory. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from bench import report
from bench.processes import ROOT
from bench.reminders import run_reminder_tick
from bench.run import Options, run
from bench.traffic import KINDS


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__.splitlines()[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--tiny", action="store_true", help="a handful of requests (CI)")
    parser.add_argument("--requests", type=int, help="timed requests per cell (default 500)")
    parser.add_argument("--concurrency", default="1,10,50", help="comma-separated")
    parser.add_argument(
        "--slow-latency", type=float, help="seconds per Web API call (default 0.3; tiny 0.05)"
    )
    parser.add_argument("--e2e-declares", type=int, help="declares timed end to end")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--baseline", choices=["async", "wsgi"], default="async")
    parser.add_argument(
        "--bot-entry", default="app.py", help="script that starts the bot (to try a change)"
    )
    parser.add_argument(
        "--reminder-incidents", type=int, help="open incidents for the tick (default 10000)"
    )
    parser.add_argument("--skip-reminders", action="store_true")
    parser.add_argument(
        "--only", choices=["instant", "slow"], help="run one emulator condition only"
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help="request kinds to time")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/<time>.json)")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    tiny = args.tiny
    return Options(
        requests=args.requests or (4 if tiny else 500),
        concurrencies=tuple(int(c) for c in args.concurrency.split(",")),
        slow_latency=args.slow_latency
        if args.slow_latency is not None
        else (0.05 if tiny else 0.3),
        e2e_declares=args.e2e_declares or (2 if tiny else 20),
        users=4 if tiny else 12,
        database_url=args.database_url,
        baseline_server=args.baseline,
        bot_entry=args.bot_entry,
        quiet_seconds=0.1 if tiny else 0.5,
        conditions=(args.only,) if args.only else ("instant", "slow"),
        kinds=tuple(kind for kind in args.kinds.split(",") if kind),
    )


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    options = options_from(args)
    started = time.monotonic()

    def progress(message: str) -> None:
        print(f"[{time.monotonic() - started:6.1f}s] {message}", file=sys.stderr, flush=True)

    results: dict[str, Any] = {
        "machine": report.machine(),
        "options": {
            "tiny": args.tiny,
            "requests": options.requests,
            "concurrencies": list(options.concurrencies),
            "slow_latency_ms": round(options.slow_latency * 1000),
            "database": "postgresql" if args.database_url.startswith("postgres") else "sqlite",
            "baseline": f"{options.baseline_server} (bench/baseline_app.py)",
        },
    }
    results.update(run(options, progress))
    if args.skip_reminders:
        results["reminders"] = {"skipped": "--skip-reminders"}
    else:
        progress("reminder tick")
        incidents = args.reminder_incidents or (50 if args.tiny else 10_000)
        results["reminders"] = run_reminder_tick(incidents, args.database_url, tiny=args.tiny)
    results["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    results["seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = report.check_targets(results)
    out = args.out or ROOT / "bench" / "results" / f"bench-{time.strftime('%Y%m%d-%H%M%S')}.json"
    report.write_json(results, out)
    print(report.text(results))
    print(f"\nJSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
