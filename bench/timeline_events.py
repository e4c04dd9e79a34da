"""Benchmark: a sustained stream of `reaction_added` events into the real bot.

The bot runs as its own process (`python app.py`, as in production) against the Slack
emulator, which this process hosts along with the load generator. Incidents are declared
through the app; messages are posted in their channels; then reactions arrive at a steady
rate, mixed with second reactors on the same message and Slack-style retries of the same
delivery (`X-Slack-Retry-Num`). It prints events per second, acknowledgement latency
percentiles and the number of duplicate timeline entries in the database (must be 0).

    .venv/bin/python -m bench.timeline_events                      # 3,000 events at 250/s
    .venv/bin/python -m bench.timeline_events --events 50 --rate 100  # what CI runs
    .venv/bin/python -m bench.timeline_events --database-url postgresql://postgres@127.0.0.1/x
    .venv/bin/python -m bench.timeline_events --replicas 2 --database-url postgresql://...
"""

from __future__ import annotations

import argparse
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from playground.emulator import SlackDriver, SlackEmulator
from storage.db import normalize_url

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"


@dataclass
class Delivery:
    """One HTTP delivery of an event (a retry repeats an earlier event_id)."""

    event: dict[str, Any]
    event_id: str
    retry_num: int | None = None


@dataclass
class Figures:
    """What the run measured."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, status: int, elapsed: float) -> None:
        with self.lock:
            self.latencies.append(elapsed)
            self.statuses[status] = self.statuses.get(status, 0) + 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_bot(
    emulator: SlackEmulator, database_url: str, port: int, entry: str = "app.py"
) -> subprocess.Popen[bytes]:
    """Run `python app.py` (or `entry`) against the emulator; return once /healthz answers."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": "",
        "SLACK_API_URL": emulator.api_url,
        "DATABASE_URL": database_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "SCHEDULER_TICK_SECONDS": "60",
    }
    process = subprocess.Popen([sys.executable, str(ROOT / entry)], cwd=ROOT, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the bot exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except OSError:
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("the bot did not start within 30 s")


def declare_incidents(
    driver: SlackDriver, emulator: SlackEmulator, db: Engine, user: str, channel: str, n: int
) -> list[str]:
    """Declare `n` incidents through the app; return their channel ids."""
    for number in range(1, n + 1):
        opened = len(emulator.calls_to("views.open"))
        driver.slash_command(f"declare Bench incident {number}", user=user, channel=channel)
        emulator.wait_for("views.open", count=opened + 1, timeout=10)
        view = emulator.current_view(user)
        assert view is not None
        values = {
            "title": {"title": f"Bench incident {number}"},
            "severity": {"severity": "sev2"},
            "manager": {"manager": user},
        }
        driver.view_submission(view, values, user=user)
    query = text("SELECT channel_id FROM incident WHERE setup_state = 'complete'")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with db.connect() as conn:
            channels = [str(row[0]) for row in conn.execute(query) if row[0]]
        if len(channels) == n:
            return channels
        time.sleep(0.05)
    raise RuntimeError("incident setup did not finish")


def plan(
    emulator: SlackEmulator, channels: list[str], users: list[str], events: int, seed: int
) -> tuple[list[Delivery], int]:
    """Post messages and lay out the deliveries; returns them and the distinct messages."""
    rng = random.Random(seed)
    firsts = max(1, round(events * 0.7))
    seconds = max(0, round(events * 0.15))
    retries = max(0, events - firsts - seconds)
    deliveries: list[Delivery] = []
    messages: list[tuple[str, str, str]] = []
    for n in range(firsts):
        channel = channels[n % len(channels)]
        author, reactor = rng.sample(users, 2)
        ts = str(emulator.post_as_user(author, channel, f"Finding {n}: <@{reactor}> look")["ts"])
        emulator.react_as_user(reactor, channel, ts, "pushpin")
        messages.append((channel, ts, reactor))
        deliveries.append(Delivery(_reaction(emulator, reactor, channel, ts), f"EvB{n:08d}"))
    for n in range(seconds):
        channel, ts, first = messages[rng.randrange(len(messages))]
        other = rng.choice([u for u in users if u != first])
        try:
            emulator.react_as_user(other, channel, ts, "pushpin")
        except Exception:
            other = first  # this reactor already reacted: Slack would send nothing new
        deliveries.append(Delivery(_reaction(emulator, other, channel, ts), f"EvS{n:08d}"))
    rng.shuffle(deliveries)
    for _ in range(retries):  # a retry comes a little after the delivery it repeats
        at = rng.randrange(len(deliveries))
        original = deliveries[at]
        retry = Delivery(original.event, original.event_id, retry_num=rng.randint(1, 3))
        deliveries.insert(min(len(deliveries), at + rng.randint(1, 40)), retry)
    return deliveries, len(messages)


def _reaction(emulator: SlackEmulator, user: str, channel: str, ts: str) -> dict[str, Any]:
    return {
        "type": "reaction_added",
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": "pushpin",
        "event_ts": emulator.next_ts(),
    }


def send(
    drivers: list[SlackDriver], deliveries: list[Delivery], rate: float, concurrency: int
) -> tuple[Figures, float]:
    """Send at `rate` per second (0: as fast as `concurrency` allows); returns figures, seconds.

    Deliveries go round-robin to the replicas, as a load balancer would send them, so a retry
    often reaches another replica than the first delivery.
    """
    figures = Figures()

    def deliver(driver: SlackDriver, delivery: Delivery) -> None:
        result = driver.event(
            delivery.event, event_id=delivery.event_id, retry_num=delivery.retry_num
        )
        figures.add(result.status, result.elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for n, delivery in enumerate(deliveries):
            if rate > 0:
                delay = started + n / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
            pool.submit(deliver, drivers[n % len(drivers)], delivery)
    return figures, time.perf_counter() - started


def scalar(db: Engine, sql: str) -> int:
    """One number from the database."""
    with db.connect() as conn:
        return int(conn.execute(text(sql)).scalar() or 0)


def wait_drained(db: Engine, messages: int, events: int, timeout: float) -> tuple[int, float]:
    """Wait until the bot has recorded `messages` entries and `events` deliveries.

    Returns the number of timeline messages and the seconds waited.
    """
    started = time.perf_counter()
    count = -1
    while time.perf_counter() - started < timeout:
        count = scalar(db, "SELECT COUNT(*) FROM timeline_entry WHERE kind = 'message'")
        receipts = scalar(db, "SELECT COUNT(*) FROM event_receipt")
        if count >= messages and receipts >= events:
            break
        time.sleep(0.02)
    return count, time.perf_counter() - started


def duplicates(db: Engine) -> int:
    """Timeline entries beyond the first for any (incident, message)."""
    query = text(
        "SELECT COALESCE(SUM(n - 1), 0) FROM (SELECT COUNT(*) AS n FROM timeline_entry "
        "WHERE message_ts IS NOT NULL GROUP BY incident_id, channel_id, message_ts) AS c"
    )
    with db.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a process has used so far (Linux), or 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], pct: float) -> float:
    """The `pct` percentile (nearest rank) of `values`."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark; return its figures."""
    tmp = tempfile.TemporaryDirectory(prefix="bench-timeline-")
    database_url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    emulator = SlackEmulator(bot_token=TOKEN).start()
    users = [emulator.add_user(f"user{n}", real_name=f"User {n}") for n in range(args.users)]
    general = emulator.add_channel("general", members=users, is_general=True)
    ports = [_free_port() for _ in range(args.replicas)]
    bots: list[subprocess.Popen[bytes]] = []
    # A plain engine: plain reads, so polling never takes the bot's SQLite write lock.
    db = create_engine(normalize_url(database_url))
    try:
        for port in ports:  # one after the other: the first one migrates the database
            bots.append(start_bot(emulator, database_url, port, args.bot_entry))
        drivers = [
            SlackDriver(f"http://127.0.0.1:{port}/slack/events", SECRET, emulator) for port in ports
        ]
        channels = declare_incidents(drivers[0], emulator, db, users[0], general, args.incidents)
        for channel in channels:
            emulator.add_members(channel, *users)
        deliveries, distinct = plan(emulator, channels, users, args.events, args.seed)
        cpu_before = sum(cpu_seconds(bot.pid) for bot in bots)
        figures, sent_for = send(drivers, deliveries, args.rate, args.concurrency)
        event_ids = len({d.event_id for d in deliveries})
        count, drained_after = wait_drained(db, distinct, event_ids, args.drain_timeout)
        bot_cpu = sum(cpu_seconds(bot.pid) for bot in bots) - cpu_before
        receipts = scalar(db, "SELECT COUNT(*) FROM event_receipt")
        lat = [x * 1000 for x in figures.latencies]
        return {
            "database": db.dialect.name,
            "replicas": args.replicas,
            "rate_asked": args.rate,
            "deliveries": len(deliveries),
            "retries": sum(1 for d in deliveries if d.retry_num),
            "distinct_event_ids": event_ids,
            "distinct_messages": distinct,
            "http_statuses": figures.statuses,
            "send_seconds": round(sent_for, 3),
            "acked_per_second": round(len(lat) / sent_for, 1),
            "processed_per_second": round(len(lat) / (sent_for + drained_after), 1),
            "ack_ms_p50": round(statistics.median(lat), 2),
            "ack_ms_p99": round(percentile(lat, 99), 2),
            "ack_ms_max": round(max(lat), 2),
            "bot_cpu_ms_per_event": round(bot_cpu * 1000 / len(lat), 2),
            "timeline_messages": count,
            "event_receipts": receipts,
            "duplicates": duplicates(db),
        }
    finally:
        for bot in bots:
            bot.terminate()
        for bot in bots:
            bot.wait(timeout=30)
        db.dispose()
        emulator.stop()
        tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    """Command line: run, print the figures, exit 1 if anything was lost or duplicated."""
    parser = argparse.ArgumentParser(prog="python -m bench.timeline_events", description=__doc__)
    parser.add_argument("--events", type=int, default=3000, help="deliveries to send")
    parser.add_argument("--rate", type=float, default=250, help="per second; 0 = flat out")
    parser.add_argument("--concurrency", type=int, default=32, help="parallel senders")
    parser.add_argument("--replicas", type=int, default=1, help="bot processes (round-robin)")
    parser.add_argument("--incidents", type=int, default=4)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--drain-timeout", type=float, default=120)
    parser.add_argument("--database-url", default="", help="default: a temporary SQLite file")
    parser.add_argument("--bot-entry", default="app.py", help="script that starts the bot")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    figures = run(args)
    if args.json:
        print(json.dumps(figures))
    else:
        for key, value in figures.items():
            print(f"{key:>22}: {value}")
    ok = (
        figures["duplicates"] == 0
        and figures["timeline_messages"] == figures["distinct_messages"]
        and set(figures["http_statuses"]) == {200}
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
