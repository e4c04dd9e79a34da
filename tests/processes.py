"""The bot as real processes (`python app.py`), to kill with SIGKILL and start again.

The one helper for tests that run the bot as a process of its own (replicas, restarts,
SIGKILL), with the settings of each process given by the test.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest

from playground.emulator import SlackEmulator
from tests.harness import APP_TOKEN, BOT_TOKEN, SIGNING_SECRET

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class BotProcess:
    """`python app.py` with its settings in the environment."""

    def __init__(
        self, emulator: SlackEmulator, db_url: str, log: IO[str], settings: dict[str, str]
    ) -> None:
        self.port = free_port()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))},
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_APP_TOKEN": "",
            "SLACK_API_URL": emulator.api_url,
            "DATABASE_URL": db_url,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "LOG_LEVEL": "INFO",
            # One process per bot unless a test asks for the worker (`PROCESS_WORKER`): the
            # worker's own tests and the durability storms run with it.
            "PROCESS_WORKER": "off",
            **settings,
        }
        self.process = subprocess.Popen(
            [sys.executable, "app.py"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        return f"{self.url}/slack/events"

    def wait_healthy(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the bot exited with {self.process.returncode}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1):
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("the bot did not become healthy")

    def peak_memory_kb(self) -> int:
        """VmHWM: the most resident memory the process has had."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def kill(self) -> None:
        """SIGKILL: no shutdown of any kind."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


StartBot = Callable[..., BotProcess]


@pytest.fixture
def bot_processes(slack: SlackEmulator, db_url: str, tmp_path: Path) -> Iterator[StartBot]:
    """Start bot processes (settings as keyword arguments); all stopped after the test.

    `socket_mode=True` connects it in Socket Mode with the emulator's app token.
    """
    started: list[BotProcess] = []
    log_path = tmp_path / "bots.log"
    with log_path.open("w") as log:

        def start(*, socket_mode: bool = False, **settings: str) -> BotProcess:
            if socket_mode:
                settings = {"SLACK_APP_TOKEN": APP_TOKEN, "SLACK_SIGNING_SECRET": "", **settings}
            bot = BotProcess(slack, db_url, log, settings)
            started.append(bot)
            bot.wait_healthy()
            return bot

        yield start
        for bot in started:
            bot.stop()
    print(log_path.read_text()[-30000:])
