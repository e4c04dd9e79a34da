"""The benchmark's output: the targets checked, a text table, and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import time
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.traffic import KIND_LABELS

ACK_RATIO_MAX = 1.5
ACK_P99_C10_MAX_MS = 100.0
SLOW_P99_C50_MAX_MS = 1000.0
DECLARE_E2E_MAX_MS = 1000.0
PEAK_MEMORY_MAX_MB = 150.0


def machine() -> dict[str, Any]:
    """What the run ran on, and how busy the machine was when it started."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for package in ("slack-bolt", "slack-sdk", "uvicorn", "starlette", "sqlalchemy"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "?"
    return {
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "packages": versions,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def check_targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Every target of the issue, with the figure that decides it and whether it is met."""
    found: list[dict[str, Any]] = []

    def add(name: str, value: float | None, limit: float, unit: str) -> None:
        met = value is not None and value <= limit
        found.append({"target": name, "value": value, "limit": limit, "unit": unit, "met": met})

    for cell in results.get("ack", []):
        where = f"{cell['condition']} {KIND_LABELS[cell['kind']]} c={cell['concurrency']}"
        add(f"ack p99 / baseline, {where}", cell["ratio"]["p99_ms"], ACK_RATIO_MAX, "x")
        if cell["condition"] == "instant" and cell["concurrency"] == 10:
            add(f"ack p99, {where}", cell["bot"]["p99_ms"], ACK_P99_C10_MAX_MS, "ms")
        if cell["condition"] == "slow" and cell["concurrency"] == 50:
            add(f"ack p99, {where}", cell["bot"]["p99_ms"], SLOW_P99_C50_MAX_MS, "ms")
    e2e = results.get("declare_e2e", {}).get("instant")
    if e2e:
        add("declare end to end p95, instant", e2e["p95_ms"], DECLARE_E2E_MAX_MS, "ms")
    peak = results.get("memory", {}).get("bot", {}).get("VmHWM")
    add("peak memory of the bot", peak, PEAK_MEMORY_MAX_MB, "MB")
    return found


def _fmt(value: Any, width: int = 7) -> str:
    if value is None:
        return "-".rjust(width)
    if isinstance(value, float):
        return (f"{value:.1f}" if abs(value) >= 100 else f"{value:.2f}").rjust(width)
    return str(value).rjust(width)


def ack_table(cells: list[dict[str, Any]]) -> list[str]:
    head = (
        f"{'emulator':<8} {'request':<18} {'conc':>4} | "
        f"{'bot p50':>7} {'p95':>7} {'p99':>7} {'req/s':>7} | "
        f"{'base p50':>8} {'p95':>7} {'p99':>7} {'req/s':>7} | "
        f"{'ratio p50':>9} {'p95':>5} {'p99':>5} {'req/s':>5}"
    )
    lines = [head, "-" * len(head)]
    for cell in cells:
        bot, base, ratio = cell["bot"], cell["baseline"], cell["ratio"]
        condition = "instant" if cell["condition"] == "instant" else f"{cell['latency_ms']} ms"
        lines.append(
            f"{condition:<8} {KIND_LABELS[cell['kind']]:<18} {cell['concurrency']:>4} | "
            f"{_fmt(bot['p50_ms'])} {_fmt(bot['p95_ms'])} {_fmt(bot['p99_ms'])} "
            f"{_fmt(bot['throughput_rps'])} | "
            f"{_fmt(base['p50_ms'], 8)} {_fmt(base['p95_ms'])} {_fmt(base['p99_ms'])} "
            f"{_fmt(base['throughput_rps'])} | "
            f"{_fmt(ratio['p50_ms'], 9)} {_fmt(ratio['p95_ms'], 5)} {_fmt(ratio['p99_ms'], 5)} "
            f"{_fmt(ratio['throughput_rps'], 5)}"
        )
        failed = {k: v for k, v in {**bot["statuses"], **base["statuses"]}.items() if k != "200"}
        if failed:
            lines.append(f"{'':<8} {'':<18} {'':>4}   non-200 answers: {failed}")
    return lines


def text(results: dict[str, Any]) -> str:
    """The whole report as text."""
    meta = results["machine"]
    lines = [
        f"Benchmark on {meta['cores']} cores, {meta['memory_gb']} GB ({meta['cpu']}); "
        f"Python {meta['python']}; load average at start {meta['load_average']}, "
        f"at end {results.get('load_average_end')}",
        f"{results['options']['requests']} timed requests per cell; database "
        f"{results['options']['database']}; baseline: {results['options']['baseline']}",
        "",
        "Acknowledgement latency (ms, request sent to HTTP response) and throughput; "
        "ratio = bot / baseline",
        *ack_table(results.get("ack", [])),
        "",
        "Load generator floor (null app; ms): "
        + ", ".join(
            f"c={c}: p50 {f['p50_ms']} p99 {f['p99_ms']}"
            for c, f in results.get("floor", {}).items()
        ),
        "",
        "Declare end to end (view submission sent -> channel, card and announcement present):",
    ]
    for condition, e2e in results.get("declare_e2e", {}).items():
        lines.append(
            f"  {condition:<8} ({e2e['latency_ms']} ms per Web API call): {e2e['declares']} "
            f"declares, p50 {e2e['p50_ms']} ms, p95 {e2e['p95_ms']} ms, max {e2e['max_ms']} ms "
            f"(ack p50 {e2e['ack_p50_ms']} ms)"
        )
    lines += ["", "Reminder tick:", *_reminder_lines(results.get("reminders", {}))]
    memory = results.get("memory", {})
    lines += [
        "",
        "Peak memory (VmHWM): "
        + ", ".join(f"{name} {m.get('VmHWM', '?')} MB" for name, m in memory.items()),
        "",
        "Targets:",
    ]
    for target in results.get("targets", []):
        mark = "met   " if target["met"] else "MISSED"
        lines.append(
            f"  {mark} {target['target']}: {target['value']} {target['unit']} "
            f"(limit {target['limit']} {target['unit']})"
        )
    return "\n".join(lines)


def _reminder_lines(reminders: dict[str, Any]) -> list[str]:
    if not reminders:
        return ["  not run"]
    if "skipped" in reminders:
        return [f"  skipped: {reminders['skipped']}"]
    return [f"  {key}: {value}" for key, value in reminders.items()]


def write_json(results: dict[str, Any], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    return path
