"""`python -m bench.durable_floor`: the least that keeping a request in PostgreSQL before its
answer costs, beside the bot.

The acknowledgement targets (docs/benchmarks.md) compare the bot with a bare Bolt app that
keeps nothing (bench/baseline_app.py). This runs three apps on the same machine, against the
same kind of requests, in rounds whose order rotates:

- `bot`: `python app.py` on the given PostgreSQL database;
- `baseline`: the bare Bolt app of `python -m bench` (acknowledges, then posts one message);
- `floor`: the same bare Bolt app, writing each request's raw body to the same database in
  one autocommit INSERT before it acknowledges (`--keep-url`). Any app that keeps a request
  in PostgreSQL before answering it pays at least that: one round trip and one commit.

A first round of each app is not counted (connections, caches, the bot's first seconds).
It prints each round's ack p50 / p99 per app, their medians over the rounds, and the median
p99 of the bot and of the floor as a ratio to the baseline's.

    python -m bench.durable_floor --database-url postgresql+psycopg://…/bench
        [--rounds 5] [--requests 1000] [--kind reaction] [--concurrency 1] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from typing import Any

from sqlalchemy.engine import make_url

from bench import processes
from bench.run import Bench, Options
from bench.traffic import KINDS
from web.async_keep import libpq_conninfo

APPS = ("bot", "baseline", "floor")


def libpq_url(url: str) -> str:
    """libpq's URL for SQLAlchemy's `postgresql+psycopg://…` (refused if not PostgreSQL)."""
    if not make_url(url).drivername.startswith("postgresql"):
        raise SystemExit("--database-url must be PostgreSQL: the floor keeps requests there")
    return libpq_conninfo(url)


def median_of(rounds: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(r[key] for r in rounds), 2)


def measure(options: Options, kind: str, rounds: int, progress: Any) -> dict[str, Any]:
    """Run the rounds; returns every app's figures per round and their medians."""
    bench = Bench(options)
    floor = None
    figures: dict[str, list[dict[str, Any]]] = {name: [] for name in APPS}
    concurrency = options.concurrencies[0]
    try:
        bench.start()
        assert bench.ws is not None
        floor = processes.start_baseline(
            bench.emulator.api_url,
            bench.ws.baseline_channel,
            keep_url=libpq_url(options.database_url),
        )
        bench.declare_end_to_end(2)  # incident channels to react in, and a card to press
        bench.drain(0.0)
        bench.prepare_traffic()
        apps = {"bot": bench.bot, "baseline": bench.baseline, "floor": floor}
        for n in range(-1, rounds):  # (round -1: not counted)
            order = APPS[n % 3 :] + APPS[: n % 3]
            for name in order:
                app = apps[name]
                assert app is not None
                found = bench.measure(app, kind, concurrency, 0.0)
                if found["statuses"] != {"200": found["requests"]}:
                    raise RuntimeError(f"{name} answered {found['statuses']}")
                if n >= 0:
                    figures[name].append(found)
                label = f"round {n + 1}" if n >= 0 else "warm-up"
                progress(f"{label} {name}: p50 {found['p50_ms']} p99 {found['p99_ms']} ms")
    finally:
        if floor is not None:
            floor.stop()
        bench.stop()
    medians = {
        name: {key: median_of(figures[name], key) for key in ("p50_ms", "p99_ms")} for name in APPS
    }
    base = medians["baseline"]["p99_ms"]
    return {
        "kind": kind,
        "concurrency": concurrency,
        "requests": options.requests,
        "rounds": figures,
        "median": medians,
        "p99_ratio_to_baseline": {
            name: round(medians[name]["p99_ms"] / base, 2) for name in ("bot", "floor")
        },
    }


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['kind']} at concurrency {result['concurrency']}, {result['requests']} timed "
        f"requests per app and round; ack p50 / p99 in ms",
        "",
        "| round | " + " | ".join(APPS) + " |",
        "| --- | " + " | ".join("---" for _ in APPS) + " |",
    ]
    for n in range(len(result["rounds"]["bot"])):
        cells = [
            f"{result['rounds'][name][n]['p50_ms']} / {result['rounds'][name][n]['p99_ms']}"
            for name in APPS
        ]
        lines.append(f"| {n + 1} | " + " | ".join(cells) + " |")
    medians = [f"{m['p50_ms']} / {m['p99_ms']}" for m in result["median"].values()]
    lines.append("| median | " + " | ".join(medians) + " |")
    ratio = result["p99_ratio_to_baseline"]
    lines += [
        "",
        f"median p99 / baseline's: bot {ratio['bot']} x, floor {ratio['floor']} x",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durable_floor", description=__doc__)
    parser.add_argument("--database-url", required=True, help="postgresql+psycopg://…")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000, help="timed, per app and round")
    parser.add_argument("--kind", choices=KINDS, default="reaction")
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args(argv)
    libpq_url(args.database_url)  # (refused before anything starts)
    options = Options(
        requests=args.requests,
        concurrencies=(args.concurrency,),
        database_url=args.database_url,
        conditions=("instant",),
        kinds=(args.kind,),
    )
    result = measure(options, args.kind, args.rounds, lambda line: print(line, flush=True))
    print(table(result))
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
