"""One benchmark run: the emulator, the bot and the baseline, side by side, same machine.

The emulator lives in this process; the bot (`python app.py`), the baseline
(bench/baseline_app.py) and every load (bench/load.py) run in processes of their own.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any

from bench import processes
from bench.load import Job, summarize
from bench.pending import BotWork
from bench.processes import SECRET, TOKEN, AppProcess, children, proc_memory
from bench.traffic import KINDS, Traffic
from playground.emulator import SlackDriver, SlackEmulator
from tests.scenarios import declare_values, open_declare_form

BROADCAST = "incidents"


@dataclass
class Options:
    """How big a run is."""

    requests: int = 500  # timed requests per cell
    concurrencies: tuple[int, ...] = (1, 10, 50)
    slow_latency: float = 0.3  # seconds added to every Web API call in the slow condition
    e2e_declares: int = 20
    users: int = 12
    database_url: str = ""  # default: a fresh SQLite file
    baseline_server: str = "async"
    bot_entry: str = "app.py"
    quiet_seconds: float = 0.5  # no Web API call for this long (plus 2x latency): drained
    drain_timeout: float = 600.0
    conditions: tuple[str, ...] = ("instant", "slow")
    kinds: tuple[str, ...] = KINDS

    def warmup(self, concurrency: int) -> int:
        """Untimed requests first: they open every connection the timed ones use."""
        return min(max(5, 2 * concurrency), self.requests)

    def latency(self, condition: str) -> float:
        return 0.0 if condition == "instant" else self.slow_latency


@dataclass
class Workspace:
    users: list[str]
    general: str
    broadcast: str
    baseline_channel: str
    incident_channels: list[str] = field(default_factory=list)


class Bench:
    """Owns the emulator and the app processes for one run."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self._tmp = tempfile.TemporaryDirectory(prefix="bench-")
        self.database_url = options.database_url or f"sqlite:///{self._tmp.name}/bench.db"
        self.emulator = SlackEmulator(bot_token=TOKEN)
        self.bot: AppProcess | None = None
        self.baseline: AppProcess | None = None
        self.ws: Workspace | None = None
        self.traffic: Traffic | None = None
        self.load: processes.LoadGenerator | None = None
        self.bot_work: BotWork | None = None  # opened once the bot has made its tables

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        self.load = processes.LoadGenerator()
        emu = self.emulator.start()
        users = [
            emu.add_user(f"user{n}", real_name=f"Bench User {n}") for n in range(self.options.users)
        ]
        self.ws = Workspace(
            users=users,
            general=emu.add_channel("general", members=users, is_general=True),
            broadcast=emu.add_channel(BROADCAST, members=users),
            baseline_channel=emu.add_channel("baseline", members=users),
        )
        self.bot = processes.start_bot(
            emu.api_url, self.database_url, BROADCAST, self.options.bot_entry
        )
        self.baseline = processes.start_baseline(
            emu.api_url, self.ws.baseline_channel, self.options.baseline_server
        )

    def stop(self) -> None:
        for app in (self.bot, self.baseline):
            if app is not None:
                app.stop()
        if self.load is not None:
            self.load.stop()
        if self.bot_work is not None:
            self.bot_work.close()
        self.emulator.stop()
        self._tmp.cleanup()

    def driver(self) -> SlackDriver:
        assert self.bot is not None
        return SlackDriver(self.bot.events_url, SECRET, self.emulator)

    # -- the floor: the load generator against an app that does nothing ------------------

    def floor(self) -> dict[str, Any]:
        """Latency of the load generator itself, per concurrency, against the null app."""
        null = processes.start_null_server()
        try:
            body = {"content_type": "application/json", "body": '{"type":"ping"}'}
            figures = {}
            for concurrency in self.options.concurrencies:
                job = Job(
                    null.events_url,
                    SECRET,
                    concurrency,
                    [body] * self.options.requests,
                    [body] * self.options.warmup(concurrency),
                )
                figures[str(concurrency)] = self.run_load(job)
            return figures
        finally:
            null.stop()

    # -- declare, end to end ---------------------------------------------------------------

    def declare_end_to_end(self, count: int) -> dict[str, Any]:
        """Declare `count` incidents one after another through the form; time each from the
        view submission to channel, card and announcement all present in the emulator."""
        assert self.ws is not None
        driver = self.driver()
        user = self.ws.users[0]
        totals: list[float] = []
        acks: list[float] = []
        for _ in range(count):
            title = f"E2E declare {secrets.token_hex(3)}"
            view = open_declare_form(
                driver, self.emulator, user=user, channel=self.ws.general, text=title
            )
            values = declare_values(title=title, severity="sev2", manager=user)
            started = time.perf_counter()
            result = driver.view_submission(view, values, user=user)
            acked = time.perf_counter()
            if result.status != 200:
                raise RuntimeError(f"the declare submission was answered {result.status}")
            channel = self._wait_surfaces(title, timeout=60)
            totals.append(time.perf_counter() - started)
            acks.append(acked - started)
            self.ws.incident_channels.append(channel)
            self.emulator.add_members(channel, *self.ws.users)
        summary = summarize(totals, sum(totals), {"200": len(totals)})
        return {
            "declares": count,
            "p50_ms": summary["p50_ms"],
            "p95_ms": summary["p95_ms"],
            "max_ms": summary["max_ms"],
            "mean_ms": summary["mean_ms"],
            "ack_p50_ms": summarize(acks, 1, {})["p50_ms"],
        }

    def _wait_surfaces(self, title: str, timeout: float) -> str:
        """Poll the emulator until the incident's channel, card and announcement exist."""
        assert self.ws is not None
        ws = self.emulator.ws
        slug = "-" + title.lower().replace(" ", "-")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with ws.lock:
                channel = next(
                    (c for c in reversed(list(ws.channels.values())) if c.name.endswith(slug)),
                    None,
                )
                if channel is not None:
                    card = any(
                        m.get("bot_id") and m.get("blocks") and title in m.get("text", "")
                        for m in channel.messages
                    )
                    broadcast = ws.channels[self.ws.broadcast].messages[-5:]
                    announced = any(title in m.get("text", "") for m in broadcast)
                    if card and announced:
                        return channel.id
            time.sleep(0.002)
        raise TimeoutError(f"no channel, card and announcement for {title!r} in {timeout} s")

    def prepare_traffic(self) -> None:
        """Open one declare form through the bot; its view is the template of submissions."""
        assert self.ws is not None
        view = open_declare_form(
            self.driver(), self.emulator, user=self.ws.users[0], channel=self.ws.general
        )
        self.traffic = Traffic(
            self.emulator,
            users=self.ws.users,
            channel=self.ws.general,
            declare_view=view,
            incident_channels=self.ws.incident_channels,
        )

    # -- acknowledgement latency -------------------------------------------------------------

    def ack_cell(self, kind: str, concurrency: int, latency: float) -> dict[str, Any]:
        """The same load against the bot, then against the baseline; each drained after."""
        assert self.traffic is not None and self.bot is not None and self.baseline is not None
        figures: dict[str, Any] = {}
        for name, app in (("bot", self.bot), ("baseline", self.baseline)):
            figures[name] = self.measure(app, kind, concurrency, latency)
        figures["ratio"] = ratios(figures["bot"], figures["baseline"])
        return figures

    def measure(
        self, app: AppProcess, kind: str, concurrency: int, latency: float
    ) -> dict[str, Any]:
        """One app's figures for fresh requests of `kind`, drained after."""
        assert self.traffic is not None
        warmup = self.traffic.build(kind, self.options.warmup(concurrency))
        requests = self.traffic.build(kind, self.options.requests)
        cpu_before = app.cpu_seconds()
        summary = self.run_load(Job(app.events_url, SECRET, concurrency, requests, warmup))
        summary["drain_seconds"] = round(self.drain(latency), 3)
        cpu = app.cpu_seconds() - cpu_before
        summary["cpu_ms_per_request"] = round(cpu * 1000 / (len(requests) + len(warmup)), 2)
        return summary

    def run_load(self, job: Job) -> dict[str, Any]:
        assert self.load is not None
        return self.load.run(job)

    def drain(self, latency: float) -> float:
        """Wait until the apps' work after acknowledging is over: the emulator has had no
        call for a while and the bot has nothing kept, due or journaled left (bench/pending.py);
        returns how long that took. Forgets the recorded calls and responses."""
        started = time.perf_counter()
        quiet = self.options.quiet_seconds + 2 * latency
        last, changed = -1, started
        while True:
            now = time.perf_counter()
            count = len(self.emulator.calls) + len(self.emulator.ws.responses)
            if count != last:
                last, changed = count, now
            elif now - changed >= quiet and self._bot_idle():
                break
            if now - started > self.options.drain_timeout:
                raise TimeoutError(f"still busy after {self.options.drain_timeout} s")
            time.sleep(0.05)
        with self.emulator.ws.lock:
            self.emulator.clear_calls()
            self.emulator.ws.responses.clear()
        return changed - started

    def _bot_idle(self) -> bool:
        if self.bot_work is None:
            self.bot_work = BotWork(self.database_url)
        return self.bot_work.pending() == 0

    def memory(self) -> dict[str, Any]:
        assert self.bot is not None and self.baseline is not None
        found = {"bot": self.bot.memory(), "baseline": self.baseline.memory()}
        for pid in children(self.bot.pid):  # PROCESS_WORKER: the worker beside the bot
            found["bot's worker"] = proc_memory(pid)
        return found


def ratios(bot: dict[str, Any], baseline: dict[str, Any]) -> dict[str, float | None]:
    """Bot divided by baseline for each figure (throughput too: below 1 is slower)."""
    found: dict[str, float | None] = {}
    for key in ("p50_ms", "p95_ms", "p99_ms", "throughput_rps"):
        found[key] = round(bot[key] / baseline[key], 2) if baseline.get(key) else None
    return found


def run(options: Options, progress: Any = print) -> dict[str, Any]:
    """Run everything; returns the figures (see bench/report.py for their layout)."""
    bench = Bench(options)
    results: dict[str, Any] = {"ack": [], "declare_e2e": {}}
    try:
        bench.start()
        progress("measuring the load generator's floor")
        results["floor"] = bench.floor()
        for condition in options.conditions:
            latency = options.latency(condition)
            bench.emulator.set_latency(latency)
            progress(f"[{condition}] declare end to end")
            count = (
                options.e2e_declares
                if condition == "instant"
                else max(2, options.e2e_declares // 4)
            )
            results["declare_e2e"][condition] = {
                "latency_ms": round(latency * 1000),
                **bench.declare_end_to_end(count),
            }
            bench.drain(latency)
            if bench.traffic is None:
                bench.prepare_traffic()
            for kind in options.kinds:
                for concurrency in options.concurrencies:
                    progress(f"[{condition}] {kind} at concurrency {concurrency}")
                    cell = bench.ack_cell(kind, concurrency, latency)
                    results["ack"].append(
                        {
                            "condition": condition,
                            "latency_ms": round(latency * 1000),
                            "kind": kind,
                            "concurrency": concurrency,
                            **cell,
                        }
                    )
        bench.emulator.set_latency(0)
        results["memory"] = bench.memory()
    finally:
        bench.stop()
    return results
