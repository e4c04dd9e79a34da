"""The processes a benchmark run starts: the bot, the baseline, the null server, the loads.

Each app runs in its own process so its memory and CPU can be read from /proc, and so
neither shares an interpreter (and its lock) with the emulator or the load generator.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.load import Job

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "xoxb-bench-token"
SECRET = "bench-signing-secret"


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class AppProcess:
    """A server process on 127.0.0.1:`port` that answers Slack at `events_url`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], port: int) -> None:
        self.name = name
        self.port = port
        self.events_url = f"http://127.0.0.1:{port}/slack/events"
        self.process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **env})

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, timeout: float = 60, ready: Callable[[], bool] | None = None) -> None:
        """Return once the port accepts connections (and `ready()` is true)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}")
            if _accepts(self.port) and (ready is None or ready()):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not start within {timeout:.0f} s")

    def memory(self) -> dict[str, float]:
        """Peak and current resident memory in MB (VmHWM, VmRSS), from /proc."""
        return proc_memory(self.pid)

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        """SIGTERM, then wait (SIGKILL after 30 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def proc_memory(pid: int) -> dict[str, float]:
    """VmHWM (peak resident set) and VmRSS of a process, in MB; empty when unknown."""
    found: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


def children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the bot's processing worker), from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(entry.name))
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used (Linux), or 0 when unknown."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def slack_env(api_url: str, port: int) -> dict[str, str]:
    """What both apps need to talk to the emulator and listen on `port`."""
    return {
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_APP_TOKEN": "",
        "SLACK_API_URL": api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
    }


def start_bot(
    api_url: str, database_url: str, broadcast_channel: str, entry: str = "app.py"
) -> AppProcess:
    """`python app.py`, configured from the environment as in production (`entry`: another
    script that starts the bot, for trying a change side by side)."""
    port = free_port()
    env = {
        **slack_env(api_url, port),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
        "INCIDENT_BROADCAST_CHANNEL": broadcast_channel,
        "TIMELINE_EMOJI": "pushpin",
        # A few simulated people send every request: limits this high are never reached, but
        # every declaration and costly command still pays for its check.
        "RATE_LIMITS": "declare=99999/1s,costly=99999/1s",
    }
    bot = AppProcess("the bot", [sys.executable, str(ROOT / entry)], env, port)
    bot.wait_ready(ready=lambda: _healthy(port))
    return bot


def _healthy(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def start_baseline(
    api_url: str, channel: str, server: str = "async", keep_url: str | None = None
) -> AppProcess:
    """The bare Bolt app of bench/baseline_app.py (`keep_url`: the durable floor)."""
    port = free_port()
    env = {**slack_env(api_url, port), "BASELINE_CHANNEL": channel}
    argv = [sys.executable, "-m", "bench.baseline_app", "--port", str(port), "--server", server]
    if keep_url:
        argv += ["--keep-url", keep_url]
    baseline = AppProcess("the durable floor" if keep_url else "the baseline", argv, env, port)
    baseline.wait_ready()
    return baseline


def start_null_server() -> AppProcess:
    """The null app of bench/load.py: answers at once, for the load generator's floor."""
    port = free_port()
    argv = [sys.executable, "-m", "bench.load", "--null-server", str(port)]
    null = AppProcess("the null server", argv, {}, port)
    null.wait_ready()
    null.events_url = f"http://127.0.0.1:{port}/"
    return null


class LoadGenerator:
    """One load-generator process (bench/load.py) for the whole run, fed job by job."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.load", "--jobs"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def run(self, job: Job) -> dict[str, Any]:
        """Run one job; returns its summary."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(job.to_json() + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the load generator exited with {self.process.wait()}")
        result: dict[str, Any] = json.loads(line)
        return result

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
