"""`python -m bench.declare_e2e`: a declaration end to end, when each of its parts is in place.

    .venv/bin/python -m bench.declare_e2e                    # 10 declarations, 300 ms Slack
    .venv/bin/python -m bench.declare_e2e --declares 20 --latency 0.3 --database-url URL
    .venv/bin/python -m bench.declare_e2e --declares 3 --backlog 300 --timeout 120

The Slack emulator runs in this process, the bot as `python app.py` (a fresh SQLite file, or
--database-url), with --latency seconds added to every Web API call. One declaration at a time:
`/incident declare`, the form the bot opened, then the clock runs from sending the submission
until each of the six parts is in the emulator: the channel, the invitations (declarer and
incident manager, two different people), the topic, the pinned card, the announcement in the
broadcast channel and the incident manager's checklist by direct message. Prints when each
part arrived (p50 and max) and when all were there (p50, p95, max).

--backlog N: first, N other people submit a declaration each, all at once, against the slow
Slack; the measured declarations are then made behind the backlog of setups this leaves.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench.load import summarize
from bench.processes import SECRET, TOKEN, start_bot
from playground.emulator import SlackDriver, SlackEmulator
from tests.scenarios import declare_values, open_declare_form

BROADCAST = "incidents"
PARTS = ("channel", "invitations", "topic", "pinned card", "announcement", "checklist DM")


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.declare_e2e", description=__doc__)
    parser.add_argument("--declares", type=int, default=10)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per Web API call")
    parser.add_argument("--database-url", default="", help="default: a fresh SQLite file")
    parser.add_argument("--bot-entry", default="app.py", help="script that starts the bot")
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--backlog", type=int, default=0, help="declarations submitted first")
    return parser.parse_args(argv)


def arrived(emulator: SlackEmulator, title: str, people: tuple[str, str]) -> dict[str, bool]:
    """Which parts of the declaration titled `title` are in the emulator now."""
    ws = emulator.ws
    slug = "-" + title.lower().replace(" ", "-")
    declarer, manager = people
    with ws.lock:
        channel = next((c for c in ws.channels.values() if c.name.endswith(slug)), None)
        broadcast = next(c for c in ws.channels.values() if c.name == BROADCAST)
        dm = next((c for c in ws.channels.values() if c.kind == "im" and c.user == manager), None)
        return {
            "channel": channel is not None,
            "invitations": channel is not None
            and declarer in channel.members
            and manager in channel.members,
            "topic": channel is not None and bool(channel.topic.get("value")),
            "pinned card": channel is not None and bool(channel.pins),
            "announcement": any(title in m.get("text", "") for m in broadcast.messages[-500:]),
            "checklist DM": dm is not None
            and any(title in m.get("text", "") for m in dm.messages[-5:]),
        }


def submit_backlog(driver: SlackDriver, users: list[str], views: list[dict[str, Any]]) -> None:
    """Submit one declaration per user at once (their forms are open already)."""

    def submit(n: int) -> int:
        values = declare_values(title=f"Storm {n}", severity="sev2", manager=users[n])
        return driver.view_submission(views[n], values, user=users[n]).status

    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(pool.map(submit, range(len(users))))
    if any(status != 200 for status in statuses):
        raise RuntimeError(f"backlog submissions answered {sorted(set(statuses))}")
    if users:
        print(f"{len(users)} declarations submitted at once", file=sys.stderr)


def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = tempfile.TemporaryDirectory(prefix="bench-e2e-")
    database_url = args.database_url or f"sqlite:///{tmp.name}/bench.db"
    emulator = SlackEmulator(bot_token=TOKEN).start()
    bot = None
    try:
        declarer = emulator.add_user("declarer", real_name="Dee Clarer")
        manager = emulator.add_user("manager", real_name="Manny Ger")
        general = emulator.add_channel("general", members=[declarer, manager], is_general=True)
        emulator.add_channel(BROADCAST, members=[declarer, manager])
        bot = start_bot(emulator.api_url, database_url, BROADCAST, args.bot_entry)
        driver = SlackDriver(bot.events_url, SECRET, emulator)
        backlog = [emulator.add_user(f"storm{n}") for n in range(args.backlog)]
        emulator.add_members(general, *backlog)
        views = [
            open_declare_form(driver, emulator, user=user, channel=general, text=f"Storm {n}")
            for n, user in enumerate(backlog)
        ]
        titles = [f"E2E declare {n} {secrets.token_hex(3)}" for n in range(args.declares)]
        # Behind a backlog, the measured forms are opened first: a slash command can wait
        # longer than a trigger id lives while the backlog is recorded.
        early: dict[int, tuple[str, dict[str, Any]]] = {}
        for n in range(args.declares if backlog else 0):
            who = emulator.add_user(f"declarer{n}")
            emulator.add_members(general, who)
            early[n] = (
                who,
                open_declare_form(driver, emulator, user=who, channel=general, text=titles[n]),
            )
        emulator.set_latency(args.latency)
        submit_backlog(driver, backlog, views)
        totals: list[float] = []
        parts: dict[str, list[float]] = {part: [] for part in PARTS}
        acks: list[float] = []
        for n in range(args.declares):
            title = titles[n]
            who, view = early.get(n) or (
                declarer,
                open_declare_form(driver, emulator, user=declarer, channel=general, text=title),
            )
            values = declare_values(title=title, severity="sev2", manager=manager)
            started = time.perf_counter()
            result = driver.view_submission(view, values, user=who)
            acks.append(time.perf_counter() - started)
            if result.status != 200:
                raise RuntimeError(f"the submission was answered {result.status}")
            seen: dict[str, float] = {}
            deadline = started + args.timeout
            while len(seen) < len(PARTS):
                now = time.perf_counter()
                if now > deadline:
                    raise TimeoutError(f"{title}: only {sorted(seen)} after {args.timeout} s")
                for part, present in arrived(emulator, title, (who, manager)).items():
                    if present and part not in seen:
                        seen[part] = now - started
                time.sleep(0.002)
            for part, seconds in seen.items():
                parts[part].append(seconds)
            totals.append(max(seen.values()))
            print(
                f"declaration {n + 1}: all six in {max(seen.values()) * 1000:.0f} ms",
                file=sys.stderr,
            )
            time.sleep(2 * args.latency + 0.2)  # its last calls (the timeline, reminders) end
        total = summarize(totals, sum(totals), {"200": len(totals)})
        return {
            "declares": args.declares,
            "backlog": args.backlog,
            "latency_ms": round(args.latency * 1000),
            "database": "postgresql" if database_url.startswith("postgres") else "sqlite",
            "all_p50_ms": total["p50_ms"],
            "all_p95_ms": total["p95_ms"],
            "all_max_ms": total["max_ms"],
            "ack_p50_ms": summarize(acks, 1, {})["p50_ms"],
            "parts": {
                part: {
                    "p50_ms": summarize(times, 1, {})["p50_ms"],
                    "max_ms": summarize(times, 1, {})["max_ms"],
                }
                for part, times in parts.items()
            },
        }
    finally:
        if bot is not None:
            bot.stop()
        emulator.stop()
        tmp.cleanup()


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    figures = run(args)
    print(
        f"Declare end to end, {figures['declares']} declarations one at a time, "
        f"{figures['latency_ms']} ms per Web API call, {figures['database']}"
        + (
            f", behind a backlog of {figures['backlog']} declared at once"
            if figures["backlog"]
            else ""
        )
        + ":"
    )
    for part, times in figures["parts"].items():
        print(f"  {part:<14} p50 {times['p50_ms']:>7} ms   max {times['max_ms']:>7} ms")
    print(
        f"  all six        p50 {figures['all_p50_ms']:>7} ms   p95 {figures['all_p95_ms']} ms"
        f"   max {figures['all_max_ms']} ms   (ack p50 {figures['ack_p50_ms']} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
