"""The bot as a process: start-up checks, migrate command, Socket Mode wiring, clean shutdown."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from app import create_runtime
from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN, SIGNING_SECRET, bot_settings

ROOT = Path(__file__).resolve().parents[1]


def _env(**values: str) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "DATABASE_"))}
    keep.update(values)
    return keep


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_wrong_credentials_stop_start_up(tmp_path: Path) -> None:
    # Without any token the playground starts instead (tests/web/test_playground.py).
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=_env(DATABASE_URL=f"sqlite:///{tmp_path}/x.db", SLACK_BOT_TOKEN="not-a-bot-token"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "SLACK_BOT_TOKEN" in result.stderr and "OAuth & Permissions" in result.stderr
    assert not (tmp_path / "x.db").exists()  # nothing was created


def test_migrate_command(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "migrate"],
        cwd=tmp_path,
        env=_env(DATABASE_URL=f"sqlite:///{tmp_path}/m.db"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout
    assert (tmp_path / "m.db").exists()


def test_socket_mode_serves_health_but_not_slack_events(slack: SlackEmulator, db_url: str) -> None:
    settings = bot_settings(
        slack, db_url, slack_app_token="xapp-1-A1-123-abc", slack_signing_secret=""
    )
    runtime = create_runtime(settings)
    try:
        paths = {getattr(route, "path", "") for route in runtime.web_app.routes}
        assert "/healthz" in paths and "/slack/events" not in paths
        assert "/hooks/alertmanager" in paths  # monitoring tools still reach the bot
    finally:
        runtime.shutdown()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_finishes_in_flight_work(
    slack: SlackEmulator, workspace: Workspace, db_url: str, tmp_path: Path, sig: signal.Signals
) -> None:
    port = _free_port()
    env = _env(
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        DATABASE_URL=db_url,
        HOST="127.0.0.1",
        PORT=str(port),
    )
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py")],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "the bot did not start"
            time.sleep(0.1)
        slack.set_latency(1.5, method="views.open")
        driver = SlackDriver(f"http://127.0.0.1:{port}/slack/events", SIGNING_SECRET, slack)
        result = driver.slash_command(
            "declare Disk full", user=workspace.alice, channel=workspace.general
        )
        assert result.status == 200 and result.elapsed < 1.0  # acknowledged before the call
        process.send_signal(sig)
        assert process.wait(timeout=20) == 0
        output = process.stdout.read() if process.stdout else ""
        # The listener's slow Slack call finished before the process exited.
        opened = slack.calls_to("views.open")
        assert len(opened) == 1 and opened[0].status == 200
        assert "stopped" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
