"""Benchmark: an alert storm through the real bot's webhook.

1,000 alerts in 10 seconds in 50 groups (defaults) are posted to `POST /hooks/alertmanager`
of the real bot (`python app.py` in a process of its own, configured from the environment as
in production, the Slack emulator standing in for Slack) on an open-loop schedule: alert i
leaves at i x seconds/alerts whatever the earlier answers did, each in an Alertmanager
version 4 delivery of its group (`groupKey` of group i mod groups). Figures: how long each
answer took (p50/p95/p99/max; the target is p99 < 200 ms), the rate achieved, the bot's CPU
time, and what the database holds afterwards: one group per sender group, every alert
stored once.

    .venv/bin/python -m bench.alerts_storm                                  # SQLite, 1,000
    .venv/bin/python -m bench.alerts_storm --database-url postgresql://postgres@127.0.0.1/b
    .venv/bin/python -m bench.alerts_storm --alerts 60 --groups 6 --seconds 1.5  # CI size

The PostgreSQL database must exist and be empty (it is migrated first).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import func
from sqlmodel import col, select

from bench.load import percentile
from bench.processes import TOKEN, start_bot
from blocks.alerts import group_of
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_alerts import Alert, AlertGroup

HOOK_TOKEN = "storm-benchmark-token-0123456789"
TARGET_P99_MS = 200.0


def delivery(i: int, groups: int, group_name: str = "Storm") -> bytes:
    """Alertmanager's webhook body for alert i, alone in its group's delivery."""
    group = i % groups
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    labels = {"alertname": f"{group_name}{group:03d}", "instance": f"host-{i:05d}:9100"}
    body = {
        "receiver": "bot",
        "status": "firing",
        "alerts": [
            {
                "status": "firing",
                "labels": {**labels, "severity": "critical"},
                "annotations": {"summary": f"Storm group {group}"},
                "startsAt": now,
                "endsAt": "0001-01-01T00:00:00Z",
                "generatorURL": "http://prometheus.example:9090/graph",
                "fingerprint": f"{i:016x}",
            }
        ],
        "groupLabels": {"alertname": labels["alertname"]},
        "commonLabels": {**labels, "severity": "critical"},
        "commonAnnotations": {"summary": f"Storm group {group}"},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": f'{{}}:{{alertname="{labels["alertname"]}"}}',
        "truncatedAlerts": 0,
    }
    return json.dumps(body).encode()


def storm(url: str, alerts: int, groups: int, seconds: float, senders: int) -> dict[str, Any]:
    """Post the alerts on schedule; return latencies (ms), statuses and the rate achieved.

    Every sender's connection is made (and used once, on the warm-up group at
    /hooks/grafana) before the clock starts, as a monitoring system's would be; a 503 is
    tried again after a second, as Alertmanager does, and counted.
    """
    headers = {"Authorization": f"Bearer {HOOK_TOKEN}", "Content-Type": "application/json"}
    clients: queue.SimpleQueue[httpx.Client] = queue.SimpleQueue()
    warmup_url = url.rsplit("/", 1)[0] + "/grafana"
    for n in range(senders):
        client = httpx.Client(timeout=10)
        body = delivery(alerts + n, 1, group_name="Warmup")
        client.post(warmup_url, content=body, headers=headers).raise_for_status()
        clients.put(client)
    bodies = [delivery(i, groups) for i in range(alerts)]
    latencies: list[float] = [0.0] * alerts
    statuses: list[int] = [0] * alerts
    retries: list[int] = [0] * alerts
    start = time.perf_counter() + 0.2

    def send(i: int) -> None:
        delay = start + i * seconds / alerts - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        client = clients.get()
        try:
            for attempt in range(5):
                began = time.perf_counter()
                try:
                    statuses[i] = client.post(url, content=bodies[i], headers=headers).status_code
                except httpx.HTTPError:
                    statuses[i] = -1
                if attempt == 0:
                    latencies[i] = (time.perf_counter() - began) * 1000
                if statuses[i] == 200:
                    return
                retries[i] += 1
                time.sleep(1.0)
        finally:
            clients.put(client)

    with ThreadPoolExecutor(max_workers=senders) as pool:
        list(pool.map(send, range(alerts)))
    elapsed = time.perf_counter() - start
    while not clients.empty():
        clients.get().close()
    ordered = sorted(latencies)
    return {
        "seconds": round(elapsed, 2),
        "rate_per_second": round(alerts / elapsed, 1),
        "statuses": dict(Counter(statuses)),
        "retried": sum(retries),
        "latency_ms_p50": round(percentile(ordered, 50), 1),
        "latency_ms_p95": round(percentile(ordered, 95), 1),
        "latency_ms_p99": round(percentile(ordered, 99), 1),
        "latency_ms_max": round(ordered[-1], 1),
    }


def converge(url: str, timeout: float) -> float | None:
    """Seconds until every group's triage message shows its latest version (None: timeout)."""
    db = Database(url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            with db.read() as session:
                behind = session.exec(
                    select(func.count())
                    .select_from(AlertGroup)
                    .where(col(AlertGroup.posted_version) < col(AlertGroup.version))
                ).one()
            if behind == 0:
                return round(time.monotonic() - started, 1)
            time.sleep(0.5)
        return None
    finally:
        db.dispose()


def run(args: argparse.Namespace) -> dict[str, Any]:
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp(prefix='ib-storm-')}/storm.db"
    with SlackEmulator(bot_token=TOKEN) as emulator:
        channel = emulator.seed_demo()["general"]
        emulator.enable_rate_limits()  # Slack's tiers and 1 post per second per channel
        extra = {"ALERT_WEBHOOK_TOKEN": HOOK_TOKEN, "ALERTS_CHANNEL": channel}
        os.environ.update(extra)  # read by the bot process only
        try:
            bot = start_bot(emulator.api_url, url, channel)
        finally:
            for name in extra:
                del os.environ[name]
        try:
            figures = storm(
                f"http://127.0.0.1:{bot.port}/hooks/alertmanager",
                args.alerts,
                args.groups,
                args.seconds,
                args.senders,
            )
            figures["triage_seconds"] = converge(url, args.converge_timeout)
            figures["bot_cpu_seconds"] = round(bot.cpu_seconds(), 2)
        finally:
            bot.stop()
        posts = emulator.calls_to("chat.postMessage")
        figures["triage_messages"] = sum(
            1 for m in emulator.messages(channel) if group_of(m) is not None
        )
        figures["post_calls"] = len(posts)
        figures["update_calls"] = len(emulator.calls_to("chat.update"))
        figures["rate_limited_calls"] = sum(1 for c in emulator.calls if c.status == 429)
    db = Database(url)
    try:
        with db.read() as session:
            storm_group = AlertGroup.source == "alertmanager"  # not the warm-up (grafana)
            storm_alert = Alert.source == "alertmanager"
            stored_groups = session.exec(
                select(func.count()).select_from(AlertGroup).where(storm_group)
            ).one()
            stored_alerts = session.exec(
                select(func.count()).select_from(Alert).where(storm_alert)
            ).one()
            distinct = session.exec(
                select(func.count(func.distinct(Alert.fingerprint))).where(storm_alert)
            ).one()
            repeats = session.exec(select(func.sum(Alert.repeat_count)).where(storm_alert)).one()
            per_group = session.exec(
                select(func.min(AlertGroup.alert_count), func.max(AlertGroup.alert_count)).where(
                    storm_group
                )
            ).one()
    finally:
        db.dispose()
    figures.update(
        database="postgresql" if url.startswith("postgres") else "sqlite",
        alerts=args.alerts,
        groups=args.groups,
        stored_groups=stored_groups,
        stored_alerts=stored_alerts,
        distinct_fingerprints=distinct,
        repeats=repeats or 0,
        alerts_per_group=list(per_group),
        senders=args.senders,
    )
    # One row per alert; a delivery retried after a 503 is a repeat of that row, not a row.
    figures["every_alert_once"] = stored_alerts == distinct == args.alerts and figures[
        "statuses"
    ] == {200: args.alerts}
    figures["one_group_per_sender_group"] = stored_groups == args.groups
    # One triage message per group (the warm-up group has one too), none twice.
    figures["one_message_per_group"] = figures["triage_messages"] == args.groups + 1
    figures["p99_under_target"] = figures["latency_ms_p99"] < TARGET_P99_MS
    return figures


def report(figures: dict[str, Any]) -> str:
    """A few lines for people."""
    return "\n".join(
        [
            f"alert storm ({figures['database']}): {figures['alerts']} alerts in "
            f"{figures['seconds']} s ({figures['rate_per_second']}/s) in "
            f"{figures['groups']} groups, {figures['senders']} senders",
            f"  answers: {figures['statuses']} ({figures['retried']} retried after a 503); "
            f"latency ms p50 {figures['latency_ms_p50']}, "
            f"p95 {figures['latency_ms_p95']}, p99 {figures['latency_ms_p99']} "
            f"(target < {TARGET_P99_MS:.0f}), max {figures['latency_ms_max']}",
            f"  stored: {figures['stored_groups']} groups, {figures['stored_alerts']} alerts "
            f"({figures['distinct_fingerprints']} distinct, {figures['repeats']} repeats), "
            f"alerts per group {figures['alerts_per_group'][0]}-{figures['alerts_per_group'][1]};"
            f" bot CPU {figures['bot_cpu_seconds']} s",
            f"  triage: {figures['triage_messages']} messages (storm groups + 1 warm-up) "
            f"shown up to date after {figures['triage_seconds']} s; {figures['post_calls']} "
            f"chat.postMessage, {figures['update_calls']} chat.update, "
            f"{figures['rate_limited_calls']} answered 429 (rate limits on, retried)",
            f"  every alert stored once: {figures['every_alert_once']}; one group per sender "
            f"group: {figures['one_group_per_sender_group']}; one message per group: "
            f"{figures['one_message_per_group']}; p99 under target: "
            f"{figures['p99_under_target']}",
        ]
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Command-line entry point; returns the figures (for the CI test)."""
    parser = argparse.ArgumentParser(prog="python -m bench.alerts_storm", description=__doc__)
    parser.add_argument("--alerts", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="spread the alerts over")
    parser.add_argument("--senders", type=int, default=32, help="concurrent HTTP connections")
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    parser.add_argument(
        "--converge-timeout", type=float, default=300.0, help="seconds to wait for Slack"
    )
    args = parser.parse_args(argv)
    figures = run(args)
    print(report(figures))
    return figures


if __name__ == "__main__":
    result = main()
    passed = (
        result["every_alert_once"]
        and result["one_group_per_sender_group"]
        and result["one_message_per_group"]
    )
    sys.exit(0 if passed else 1)
