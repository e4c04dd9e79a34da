"""The status page under a crowd, and Slack acknowledgements beside it.

    .venv/bin/python -m bench.statuspage_load                 # 20 s of load (the figures)
    .venv/bin/python -m bench.statuspage_load --tiny          # a few seconds (the tests run it)
    .venv/bin/python -m bench.statuspage_load --rate 2500 --concurrency 32 --seconds 30

One run, one machine: the Slack emulator in this process, the bot as `python app.py` with a
status page, GET load from a process of its own (asyncio, kept-alive connections, paced to
`--rate` requests per second, /status and /api/v2/summary.json alternately), and `/incident
help` acknowledgements timed by bench/load.py first alone, then during the GET load.
Targets: >= 2,000 GET/s with p99 < 50 ms, acks within 1.5x of their figure without load.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import processes
from bench.load import Job, summarize
from bench.processes import ROOT, SECRET, TOKEN, AppProcess, free_port
from bench.traffic import Recorder
from playground.emulator import SlackEmulator

PAGE = """name: Bench Status
url: https://status.bench.example
components:
  - name: API
  - name: Website
  - name: Card payments
    group: Payments
  - name: Payouts
    group: Payments
"""
PATHS = ("/status", "/api/v2/summary.json")


# -- the GET client (runs in its own process) -------------------------------------------------


async def _client(
    host: str, port: int, seconds: float, concurrency: int, rate: float
) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    interval = concurrency / rate if rate > 0 else 0.0
    deadline = time.perf_counter() + seconds

    async def worker(n: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        requests = [
            f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nAccept-Encoding: gzip\r\n\r\n".encode()
            for p in PATHS
        ]
        k = n
        next_at = time.perf_counter() + interval * n / concurrency
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            if interval and now < next_at:
                await asyncio.sleep(next_at - now)
            next_at += interval
            started = time.perf_counter()
            writer.write(requests[k % len(requests)])
            k += 1
            status_line = await reader.readline()
            status = status_line.split(b" ", 2)[1].decode() if status_line else "0"
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker(n) for n in range(concurrency)))
    return summarize(latencies, time.perf_counter() - started, statuses)


def client_main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--rate", type=float, required=True)
    args = parser.parse_args(argv)
    figures = asyncio.run(
        _client("127.0.0.1", args.port, args.seconds, args.concurrency, args.rate)
    )
    print(json.dumps(figures), flush=True)


# -- the run --------------------------------------------------------------------------------


def _start_bot(api_url: str, database_url: str, page_file: str) -> AppProcess:
    port = free_port()
    env = {
        **processes.slack_env(api_url, port),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "STATUS_PAGE_FILE": page_file,
    }
    bot = AppProcess("the bot", [sys.executable, str(ROOT / "app.py")], env, port)
    bot.wait_ready(ready=lambda: processes._healthy(port))
    return bot


def _acks(
    load: processes.LoadGenerator,
    bot: AppProcess,
    recorder: Recorder,
    users: list[str],
    channel: str,
    count: int,
) -> dict[str, Any]:
    for n in range(count + 5):
        recorder.slash_command("help", user=users[n % len(users)], channel=channel)
    items = recorder.take()
    return load.run(Job(bot.events_url, SECRET, 1, items[5:], warmup=items[:5]))


def run(options: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="bench-statuspage-")
    page_file = Path(tmp.name) / "status.yml"
    page_file.write_text(PAGE)
    database_url = options.database_url or f"sqlite:///{tmp.name}/bench.db"
    emulator = SlackEmulator(bot_token=TOKEN).start()
    users = [emulator.add_user(f"user{n}") for n in range(4)]
    channel = emulator.add_channel("general", members=users, is_general=True)
    load = processes.LoadGenerator()
    bot = _start_bot(emulator.api_url, database_url, str(page_file))
    try:
        recorder = Recorder(emulator)
        alone = _acks(load, bot, recorder, users, channel, options.acks)
        client = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "bench.statuspage_load",
                "--client",
                "--port",
                str(bot.port),
                "--seconds",
                str(options.seconds),
                "--concurrency",
                str(options.concurrency),
                "--rate",
                str(options.rate),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        time.sleep(min(1.0, options.seconds / 4))  # the load is up before acks are timed
        loaded = _acks(load, bot, recorder, users, channel, options.acks)
        out, _ = client.communicate(timeout=options.seconds + 60)
        gets = json.loads(out.strip().splitlines()[-1])
        memory = bot.memory()
    finally:
        bot.stop()
        load.stop()
        emulator.stop()
        tmp.cleanup()
    ratio = {
        k: round(loaded[k] / alone[k], 2) if alone[k] else None
        for k in ("p50_ms", "p95_ms", "p99_ms")
    }
    targets = {
        "gets_per_second_at_least_2000": gets["throughput_rps"] >= 2000,
        "gets_p99_below_50_ms": gets["p99_ms"] < 50,
        "ack_p50_within_1_5x": (ratio["p50_ms"] or 0) <= 1.5,
        "ack_p95_within_1_5x": (ratio["p95_ms"] or 0) <= 1.5,
    }
    return {
        "options": vars(options),
        "gets": gets,
        "acks_alone": alone,
        "acks_under_load": loaded,
        "ack_ratio": ratio,
        "targets": targets,
        "bot_memory_mb": memory,
    }


def table(results: dict[str, Any]) -> str:
    g, a, b, r = (
        results["gets"],
        results["acks_alone"],
        results["acks_under_load"],
        results["ack_ratio"],
    )
    lines = [
        f"status page GETs: {g['throughput_rps']}/s over {g['seconds']} s, "
        f"p50 {g['p50_ms']} ms, p99 {g['p99_ms']} ms, statuses {g['statuses']}",
        f"/incident help acks alone:      p50 {a['p50_ms']} ms, p95 {a['p95_ms']} ms, "
        f"p99 {a['p99_ms']} ms ({a['requests']} requests)",
        f"/incident help acks under load: p50 {b['p50_ms']} ms, p95 {b['p95_ms']} ms, "
        f"p99 {b['p99_ms']} ms; ratio p50 {r['p50_ms']}x, p95 {r['p95_ms']}x, p99 {r['p99_ms']}x",
        "targets: "
        + ", ".join(f"{k}={'met' if v else 'MISSED'}" for k, v in results["targets"].items()),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--client" in argv:
        argv.remove("--client")
        client_main(argv)
        return 0
    parser = argparse.ArgumentParser(prog="python -m bench.statuspage_load", description=__doc__)
    parser.add_argument("--tiny", action="store_true", help="a few seconds (CI)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rate", type=float, default=2200.0, help="GET requests per second")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--acks", type=int, default=300, help="timed /incident help per phase")
    parser.add_argument("--database-url", default="")
    parser.add_argument("--out", default="", help="write the figures as JSON here")
    options = parser.parse_args(argv)
    if options.tiny:
        options.seconds, options.rate, options.concurrency, options.acks = 3.0, 300.0, 4, 20
    results = run(options)
    print(table(results))
    if options.out:
        Path(options.out).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
