"""Benchmark: the reminder tick with many open incidents in the database.

Seeds N open SEV1 incidents (default 10,000) whose last updates are spread evenly over the
last 15 minutes, so reminders fall due at the steady rate the default SEV1 interval gives
(N / 900 per second). It then measures, against the Slack emulator hosted here:

1. an idle tick (nothing due): time and SQL statements;
2. the periodic reconcile over every open incident (nothing to fix): time and statements;
3. a live run of the real APScheduler job for `--window` seconds: how late each reminder
   was sent after its due time (percentiles), ticks run, statements per reminder sent;
4. a backlog (`--backlog` reminders all overdue, as after an outage): time to drain it.

Every reminder posted is checked against the database: each is posted and recorded once.

    .venv/bin/python -m bench.reminders_tick                                 # SQLite, 10,000
    .venv/bin/python -m bench.reminders_tick --create \\
        --database-url postgresql://postgres@127.0.0.1/ib_bench
    .venv/bin/python -m bench.reminders_tick --incidents 50 --window 2       # what CI runs

`--create` drops and re-creates the PostgreSQL database named in the URL; without it the
database must be empty (it is migrated first). `--slack-latency 0.2` makes every
chat.postMessage take 200 ms, like the real Slack on a slow day.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from slack_sdk import WebClient
from sqlalchemy import bindparam, event, insert, text, update

from blocks.reminders import key_of
from bot import reminders
from bot.core.vocabulary import Role
from bot.reminders import claims
from bot.reminders.policy import Kind
from bot.settings import load_settings
from bot.slack import jobs
from bot.slack.jobs import ReminderTicker, TickReport
from bot.slack.services import Services
from playground.emulator import SlackEmulator
from storage import Database
from storage.db import normalize_url
from storage.models import Incident, IncidentRole
from storage.models_reminders import Reminder
from storage.types import utcnow

TOKEN = "xoxb-bench-token"
INTERVAL = timedelta(minutes=15)  # the default SEV1 interval
CHUNK = 1000


@dataclass
class Counter:
    """SQL statements sent to the database, counted by a SQLAlchemy event listener."""

    count: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, *_: Any) -> None:
        with self.lock:
            self.count += 1


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of values, nearest rank."""
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def create_postgres_database(url: str) -> None:
    """Drop and create the database named in `url` (through the server's `postgres` db)."""
    import psycopg

    base, _, name = normalize_url(url).replace("+psycopg", "").rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def chunks(items: list[dict[str, Any]], size: int = CHUNK) -> Iterator[list[dict[str, Any]]]:
    """`items` in lists of at most `size`."""
    for first in range(0, len(items), size):
        yield items[first : first + size]


def seed(db: Database, emulator: SlackEmulator, count: int) -> list[int]:
    """`count` open SEV1 incidents, each with a manager, a channel and reminder rows."""
    now = utcnow()
    rows = [
        {
            "number": n + 1,
            "title": f"Bench incident {n + 1}",
            "severity": "sev1",
            "summary": "",
            "impact": "",
            "private": False,
            "status": "investigating",
            "declared_by": "U0BENCH",
            "declare_key": uuid.uuid4().hex,
            "channel_id": emulator.add_channel(f"inc-{n + 1}-bench"),
            "setup_state": "complete",
            "resolution": "",
            "declared_at": now - timedelta(hours=1),
            "updated_at": now,
        }
        for n in range(count)
    ]
    with db.session() as session:
        for chunk in chunks(rows):
            session.execute(insert(Incident), chunk)
        ids = [i for (i,) in session.execute(text("SELECT id FROM incident ORDER BY number"))]
        roles = [
            {
                "incident_id": i,
                "role": Role.INCIDENT_MANAGER.value,
                "user_id": "U0BENCH",
                "assigned_by": "U0BENCH",
                "assigned_at": now,
            }
            for i in ids
        ]
        plans = [
            {"incident_id": i, "kind": kind.value, "severity": "sev1", "planned_at": now}
            for i in ids
            for kind in Kind
        ]
        for chunk in chunks(roles):
            session.execute(insert(IncidentRole), chunk)
        for chunk in chunks(plans):
            session.execute(insert(Reminder), chunk)
    return ids


def spread_due_times(db: Database, ids: list[int], start: datetime) -> None:
    """Last updates spread over the 15 minutes before `start`: reminders fall due from
    `start` on at the steady rate (N per 15 minutes), as after a long quiet period."""
    values = []
    for n, incident_id in enumerate(ids):
        last_update = start - INTERVAL + INTERVAL * (n / len(ids))
        values.append({"iid": incident_id, "last": last_update, "due": last_update + INTERVAL})
    incident, reminder = Incident.__table__, Reminder.__table__  # type: ignore[attr-defined]
    with db.session() as session:
        conn = session.connection()
        for chunk in chunks(values):
            conn.execute(
                update(incident)
                .where(incident.c.id == bindparam("iid"))
                .values(last_update_at=bindparam("last")),
                chunk,
            )
            conn.execute(
                update(reminder)
                .where(reminder.c.incident_id == bindparam("iid"))
                .where(reminder.c.kind == Kind.UPDATE.value)
                .values(
                    anchor_at=bindparam("last"),
                    due_at=bindparam("due"),
                    last_sent_at=None,
                    sent_count=0,
                ),
                chunk,
            )


@contextmanager
def counting(db: Database) -> Iterator[Counter]:
    """Count the statements sent while the block runs."""
    counter = Counter()
    event.listen(db.engine, "before_cursor_execute", counter)
    try:
        yield counter
    finally:
        event.remove(db.engine, "before_cursor_execute", counter)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every phase and return the figures."""
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='ib-bench-')}/bench.db"
    if args.create and url.startswith("postgres"):
        create_postgres_database(url)
    emulator = SlackEmulator(bot_token=TOKEN).start()
    if args.slack_latency:
        emulator.set_latency(args.slack_latency, "chat.postMessage")
    db = Database(url)
    figures: dict[str, Any] = {"database": db.engine.dialect.name, "incidents": args.incidents}
    try:
        db.migrate()
        settings = load_settings(
            env_file=None,
            slack_bot_token=TOKEN,
            slack_api_url=emulator.api_url,
            database_url=url,
            scheduler_tick_seconds=args.tick,
        )
        services = Services(settings=settings, db=db, slack=WebClient(TOKEN, emulator.api_url))
        started = time.perf_counter()
        ids = seed(db, emulator, args.incidents)
        spread_due_times(db, ids, utcnow() + timedelta(minutes=5))  # none due yet
        figures["seed_seconds"] = time.perf_counter() - started

        ticker = ReminderTicker(services, owner="bench")
        ticker.tick()  # the first tick reconciles; warm the pool
        idle: list[float] = []
        with counting(db) as counter:
            for _ in range(args.idle_ticks):
                idle.append(ticker.tick().seconds)
        figures["idle_tick_ms"] = (statistics.mean(idle) * 1000, percentile(idle, 95) * 1000)
        figures["idle_tick_statements"] = counter.count / args.idle_ticks

        with counting(db) as counter, db.session() as session:
            started = time.perf_counter()
            fixed = reminders.reconcile(session, policy=ticker.policy)
            figures["reconcile_ms"] = (time.perf_counter() - started) * 1000
        figures["reconcile_statements"], figures["reconcile_fixed"] = counter.count, fixed

        spread_due_times(db, ids, utcnow() + timedelta(seconds=1))  # N/900 falling due per s
        scheduler = BackgroundScheduler(timezone="UTC")
        live = jobs.schedule_reminders(scheduler, services)
        reports: list[TickReport] = []
        live.on_report = reports.append
        window_start = utcnow()
        with counting(db) as counter:
            scheduler.start()
            time.sleep(args.window)
            scheduler.shutdown(wait=True)
        window_end = utcnow()
        with db.session() as session:
            sent = [d for d in claims.deliveries(session) if d.due_at >= window_start]
        late = [(d.sent_at - d.due_at).total_seconds() for d in sent if d.due_at < window_end]
        figures["live"] = {
            "seconds": args.window,
            "due_per_second": args.incidents / INTERVAL.total_seconds(),
            "sent": len(sent),
            "ticks": len(reports),
            "tick_ms": [r.seconds * 1000 for r in reports],
            "lateness": late,
            "statements": counter.count,
            "idle_statements": figures["idle_tick_statements"],
        }

        if args.backlog:  # an outage: `backlog` incidents went 16-31 minutes without update
            spread_due_times(db, ids[-args.backlog :], utcnow() - INTERVAL - timedelta(minutes=1))
            drain = ReminderTicker(services, owner="bench-backlog", policy=ticker.policy)
            with counting(db) as counter:
                report = drain.tick()
            figures["backlog"] = {
                "outage": args.backlog,
                "reminders": report.claimed,
                "seconds": report.seconds,
                "statements": counter.count,
                "outcomes": dict(report.outcomes),
            }

        with db.session() as session:
            recorded = [d.key for d in claims.deliveries(session)]
        posted = [
            key
            for channel in emulator.ws.channels.values()
            for key in map(key_of, channel.messages)
            if key is not None
        ]
        figures["posted"], figures["recorded"] = len(posted), len(recorded)
        figures["duplicates"] = len(posted) - len(set(posted))
        figures["exactly_once"] = sorted(posted) == sorted(recorded) and not figures["duplicates"]
        return figures
    finally:
        db.dispose()
        emulator.stop()


def report(figures: dict[str, Any]) -> str:
    """The figures as text."""
    live = figures["live"]
    late = live["lateness"] or [0.0]
    ticks = live["tick_ms"] or [0.0]
    idle_load = live["ticks"] * live["idle_statements"]
    marginal = (live["statements"] - idle_load) / max(1, live["sent"])
    lines = [
        f"database: {figures['database']}, open incidents: {figures['incidents']:,} "
        f"(seeded in {figures['seed_seconds']:.1f}s)",
        f"idle tick (nothing due): mean {figures['idle_tick_ms'][0]:.2f} ms, "
        f"p95 {figures['idle_tick_ms'][1]:.2f} ms, "
        f"{figures['idle_tick_statements']:.0f} SQL statements",
        f"reconcile of all open incidents (every 60 s): {figures['reconcile_ms']:.1f} ms, "
        f"{figures['reconcile_statements']} statements, {figures['reconcile_fixed']} re-planned",
        f"live {live['seconds']:.0f} s at {live['due_per_second']:.1f} reminders due/s: "
        f"{live['sent']} sent in {live['ticks']} ticks (interval ticks and wake-ups), "
        f"{live['statements'] / max(1, live['ticks']):.1f} SQL statements per tick, "
        f"{marginal:.1f} per reminder sent",
        f"  tick time: median {statistics.median(ticks):.1f} ms, max {max(ticks):.1f} ms",
        f"  sent after due time: p50 {percentile(late, 50) * 1000:.0f} ms, "
        f"p95 {percentile(late, 95) * 1000:.0f} ms, p99 {percentile(late, 99) * 1000:.0f} ms, "
        f"max {max(late) * 1000:.0f} ms; over 2 s: {sum(x > 2 for x in late)}",
    ]
    if "backlog" in figures:
        b = figures["backlog"]
        lines.append(
            f"backlog after an outage: {b['outage']} overdue reminders (and "
            f"{b['reminders'] - b['outage']} falling due meanwhile) drained in "
            f"{b['seconds']:.2f} s "
            f"({b['reminders'] / max(b['seconds'], 1e-9):.0f}/s), "
            f"{b['statements'] / max(1, b['reminders']):.1f} statements each"
        )
    lines.append(
        f"posted {figures['posted']}, recorded {figures['recorded']}, "
        f"duplicates {figures['duplicates']}: exactly once = {figures['exactly_once']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the figures (for the CI test)."""
    parser = argparse.ArgumentParser(prog="python -m bench.reminders_tick", description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument("--create", action="store_true", help="drop and create the PG database")
    parser.add_argument("--window", type=float, default=20.0, help="seconds of live ticking")
    parser.add_argument("--tick", type=float, default=5.0, help="SCHEDULER_TICK_SECONDS")
    parser.add_argument("--idle-ticks", type=int, default=50)
    parser.add_argument("--backlog", type=int, default=1000, help="overdue reminders to drain")
    parser.add_argument("--slack-latency", type=float, default=0.0, help="seconds per post")
    args = parser.parse_args(argv)
    args.backlog = min(args.backlog, args.incidents)
    figures = run(args)
    print(report(figures))
    return figures


if __name__ == "__main__":
    result = main()
    sys.exit(0 if result["exactly_once"] else 1)
