"""Benchmark: the console and the App Home over a large history.

Seeds 10,000 incidents and 200,000 timeline entries (with updates, post-mortems, action
items and 1% private incidents), starts the real bot (real uvicorn server, real WebClient)
against the Slack emulator, signs in through the emulator's Sign in with Slack, then times,
one request after another, the incident list, a text search (a word found in a handful of
timeline entries, so every text column is searched), the insights page (365 days) and the
App Home's publication (views.publish included). Each page is asked once before timing
(the membership lookups of private channels, then cached for 60 s, are reported as `cold`).

    .venv/bin/python -m bench.console_scale                       # 10,000 / 200,000 on SQLite
    .venv/bin/python -m bench.console_scale --database-url postgresql://postgres@127.0.0.1/x
    .venv/bin/python -m bench.console_scale --incidents 200 --timeline 2000 --requests 5 --json

The PostgreSQL database must exist and be empty; it is migrated here.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from bot.slack.insights import publish_home
from playground.emulator import SlackEmulator
from storage import Database
from storage.models import Incident, IncidentRole, IncidentUpdate
from storage.models_library import PostmortemVersion
from storage.models_postmortems import ActionItem, PostMortem
from storage.models_timeline import TimelineEntry
from tests.console import console_settings, sign_in
from tests.harness import BOT_TOKEN, RunningBot, bot_settings

TARGET_MS = 300.0
HOME_TARGET_MS = 1000.0
NEEDLE = "kumquat"  # in one timeline entry of 20 public incidents (a search's few hits)
WORDS = [
    "checked",
    "dashboards",
    "latency",
    "errors",
    "rollback",
    "deploy",
    "database",
    "replica",
    "queue",
    "cache",
    "customers",
    "pager",
    "alert",
    "mitigated",
    "restarted",
    "scaled",
    "config",
    "flag",
    "vendor",
    "dns",
    "certificate",
]
BATCH = 5000


def needle_every(incidents: int) -> int:
    """The needle goes into every this many incidents (about 20 of them, private ones not)."""
    return max(1, incidents // 20) + 1


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * p // 100))
    return ordered[int(rank) - 1]


def _insert(db: Database, table: Any, rows: list[dict[str, Any]]) -> None:
    for start in range(0, len(rows), BATCH):
        with db.session() as session:
            session.execute(insert(table), rows[start : start + BATCH])


def seed(
    db: Database, *, incidents: int, timeline: int, people: list[str], private_channels: list[str]
) -> dict[str, float]:
    """The history; returns how long each part took (seconds)."""
    rng = random.Random(16)
    now = datetime.now(UTC)
    took: dict[str, float] = {}
    started = time.perf_counter()
    rows: list[dict[str, Any]] = []
    roles: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    pms: list[dict[str, Any]] = []
    versions: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    per_incident = max(1, timeline // max(1, incidents))
    for n in range(1, incidents + 1):
        declared = now - timedelta(days=400) + timedelta(minutes=n * 400 * 1440 / incidents)
        resolved = n <= incidents * 0.97
        private = n % 100 == 0 and n // 100 <= len(private_channels)
        ack = declared + timedelta(seconds=rng.randint(30, 3600))
        rows.append(
            {
                "id": n,
                "number": n,
                "title": f"{rng.choice(WORDS).capitalize()} {rng.choice(WORDS)} incident {n}",
                "severity": f"sev{rng.randint(1, 4)}",
                "summary": " ".join(rng.choices(WORDS, k=12)),
                "impact": " ".join(rng.choices(WORDS, k=8)),
                "private": bool(private),
                "status": "resolved" if resolved else rng.choice(["investigating", "identified"]),
                "declared_by": rng.choice(people),
                "declare_key": f"bench-{n}",
                "channel_id": private_channels[n // 100 - 1] if private else f"CB{n:08d}",
                "channel_name": f"inc-{n}",
                "setup_state": "complete",
                "resolution": " ".join(rng.choices(WORDS, k=6)) if resolved else "",
                "declared_at": declared,
                "acknowledged_at": ack,
                "identified_at": ack + timedelta(seconds=rng.randint(60, 7200)),
                "monitoring_at": ack + timedelta(seconds=rng.randint(600, 9000))
                if resolved
                else None,
                "resolved_at": ack + timedelta(seconds=rng.randint(9000, 90000))
                if resolved
                else None,
                "updated_at": declared,
            }
        )
        roles.append(
            {
                "incident_id": n,
                "role": "incident_manager",
                "user_id": rng.choice(people),
                "assigned_by": people[0],
                "assigned_at": declared,
            }
        )
        updates.append(
            {
                "incident_id": n,
                "author": rng.choice(people),
                "message": " ".join(rng.choices(WORDS, k=20)),
                "posted_at": declared + timedelta(minutes=10),
            }
        )
        if resolved:
            document = f"# Post-mortem: incident {n}\n\n" + " ".join(rng.choices(WORDS, k=150))
            pms.append(
                {
                    "id": n,
                    "incident_id": n,
                    "version": 1,
                    "document": document,
                    "customer": "",
                    "due_on": (declared + timedelta(days=7)).date(),
                    "completed_at": declared + timedelta(days=5) if n % 3 else None,
                    "created_at": declared,
                }
            )
            versions.append(
                {
                    "postmortem_id": n,
                    "incident_id": n,
                    "version": 1,
                    "document": document,
                    "rendered_at": declared,
                }
            )
        if n % 4 == 0:
            items.append(
                {
                    "incident_id": n,
                    "text": " ".join(rng.choices(WORDS, k=6)),
                    "owner": rng.choice(people),
                    "due_on": date.today() + timedelta(days=rng.randint(-30, 30)),
                    "state": "open" if n % 8 else "done",
                    "via": "command",
                    "created_by": people[0],
                    "created_at": declared,
                }
            )
    _insert(db, Incident.__table__, rows)  # type: ignore[attr-defined]
    _insert(db, IncidentRole.__table__, roles)  # type: ignore[attr-defined]
    _insert(db, IncidentUpdate.__table__, updates)  # type: ignore[attr-defined]
    _insert(db, PostMortem.__table__, pms)  # type: ignore[attr-defined]
    _insert(db, PostmortemVersion.__table__, versions)  # type: ignore[attr-defined]
    _insert(db, ActionItem.__table__, items)  # type: ignore[attr-defined]
    took["incidents"] = time.perf_counter() - started
    started = time.perf_counter()
    entries: list[dict[str, Any]] = []
    made = 0
    every = needle_every(incidents)
    for n in range(1, incidents + 1):
        base = rows[n - 1]["declared_at"]
        count = per_incident if n < incidents else max(0, timeline - made)
        for k in range(count):
            text = " ".join(rng.choices(WORDS, k=14))
            if k == 0 and n % every == 0 and n % 100 != 0:
                text += f" {NEEDLE}"
            entries.append(
                {
                    "incident_id": n,
                    "kind": "message",
                    "occurred_at": base + timedelta(seconds=30 * k),
                    "author": rng.choice(people),
                    "author_name": "Bench Person",
                    "text": text,
                    "files": "",
                    "added_via": "reaction",
                    "created_at": base,
                }
            )
        made += count
        if len(entries) >= BATCH * 4:
            _insert(db, TimelineEntry.__table__, entries)  # type: ignore[attr-defined]
            entries = []
    if entries:
        _insert(db, TimelineEntry.__table__, entries)  # type: ignore[attr-defined]
    if db.engine.dialect.name == "postgresql":
        with db.engine.connect() as conn:
            for table in ("incident", "timeline_entry", "incident_update", "postmortem"):
                conn.exec_driver_sql(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT max(id) FROM {table}))"
                )
            conn.commit()
        # What autovacuum does after a bulk load: statistics, and the GIN indexes' pending
        # lists merged (a search reads a pending list row by row).
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    else:
        with db.engine.connect() as conn:
            conn.exec_driver_sql("ANALYZE")
            conn.commit()
    took["timeline"] = time.perf_counter() - started
    return took


def timed(fn: Callable[[], Any], requests: int) -> dict[str, float]:
    """Cold (first) time, then p50/p99/max of `requests` more, in ms."""
    t0 = time.perf_counter()
    fn()
    cold = (time.perf_counter() - t0) * 1000
    samples = []
    for _ in range(requests):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    return {
        "cold_ms": round(cold, 1),
        "p50_ms": round(statistics.median(samples), 1),
        "p99_ms": round(percentile(samples, 99), 1),
        "max_ms": round(max(samples), 1),
    }


def run(*, incidents: int, timeline: int, requests: int, database_url: str) -> dict[str, Any]:
    """Seed, start the bot, time the pages; returns the figures."""
    with SlackEmulator(bot_token=BOT_TOKEN) as slack:
        ids = slack.seed_demo()
        people = [ids["alice"], ids["bob"], ids["carol"]]
        private = [
            slack.add_channel(f"inc-private-{k}", private=True, members=people[: 1 + k % 3])
            for k in range(max(1, incidents // 100))
        ]
        quiet = {  # no reminders or nudges for the seeded open incidents while timing
            "log_level": "WARNING",
            "reminder_intervals": "sev1=off,sev2=off,sev3=off,sev4=off",
            "no_manager_nudge_after": "off",
        }
        settings = bot_settings(slack, database_url, **console_settings(**quiet))
        db = Database(database_url)
        db.migrate()
        seeding = seed(
            db, incidents=incidents, timeline=timeline, people=people, private_channels=private
        )
        db.dispose()
        bot = RunningBot(settings).start()
        try:
            slack.oidc.register_client(
                settings.slack_client_id,
                settings.slack_client_secret,
                [bot.base_url + "/console/auth/callback"],
            )
            browser = sign_in(bot, slack, ids["bob"])

            def page(path: str) -> Callable[[], None]:
                def fetch() -> None:
                    answer = browser.get(bot.base_url + path)
                    assert answer.status_code == 200, (path, answer.status_code)

                return fetch

            search = browser.get(bot.base_url + f"/console/incidents?q={NEEDLE}").text
            found = search.count('<a href="/console/incidents/')
            services = bot.runtime.services
            figures: dict[str, Any] = {
                "database": db.engine.dialect.name,
                "load_average_before": [round(x, 2) for x in os.getloadavg()],
                "incidents": incidents,
                "timeline_entries": timeline,
                "seed_seconds": {k: round(v, 1) for k, v in seeding.items()},
                "search_hits": found,
                "search_expected": sum(
                    1
                    for n in range(1, incidents + 1)
                    if n % needle_every(incidents) == 0 and n % 100 != 0
                ),
                "incident_list": timed(page("/console/incidents"), requests),
                "incident_list_filtered": timed(
                    page("/console/incidents?status=resolved&severity=sev2&page=3"), requests
                ),
                "search": timed(page(f"/console/incidents?q={NEEDLE}"), requests),
                "insights_30d": timed(page("/console/insights?days=30"), requests),
                "insights_365d": timed(page("/console/insights?days=365"), requests),
                "app_home_publish": timed(
                    lambda: publish_home(services, user_id=ids["bob"]), requests
                ),
            }
            figures["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
        finally:
            bot.stop()
    pages = ("incident_list", "incident_list_filtered", "search", "insights_30d", "insights_365d")
    figures["within_targets"] = all(figures[name]["p99_ms"] < TARGET_MS for name in pages) and (
        figures["app_home_publish"]["max_ms"] < HOME_TARGET_MS
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console_scale", description=__doc__)
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--timeline", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=100, help="timed requests per page")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="console-bench-") as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.db'}"
        figures = run(
            incidents=args.incidents,
            timeline=args.timeline,
            requests=args.requests,
            database_url=url,
        )
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{figures['database']}: {args.incidents} incidents, {args.timeline} timeline")
        print(f"seeded in {figures['seed_seconds']}; search found {figures['search_hits']}")
        print(
            f"load average (1, 5, 15 min) before {figures['load_average_before']}, "
            f"after {figures['load_average_after']} ({os.cpu_count()} CPUs)"
        )
        for name in (
            "incident_list",
            "incident_list_filtered",
            "search",
            "insights_30d",
            "insights_365d",
            "app_home_publish",
        ):
            f = figures[name]
            print(
                f"  {name:24} cold {f['cold_ms']:7.1f} ms  p50 {f['p50_ms']:7.1f}  "
                f"p99 {f['p99_ms']:7.1f}  max {f['max_ms']:7.1f}"
            )
        print("within targets" if figures["within_targets"] else "OVER TARGET")
    return 0 if figures["within_targets"] else 1


if __name__ == "__main__":
    sys.exit(main())
