"""End to end with the real Alertmanager (Debian's prometheus-alertmanager).

Alertmanager is configured to post to the running bot with a bearer token over loopback; an
alert injected through Alertmanager's API v2 is stored by the bot and its triage message
appears; Declare opens the prefilled form and declares; the alert's resolve closes it and
reaches the incident's channel. A second route posts with a wrong token: Alertmanager is
refused and nothing is stored. `scripts/test-deps` installs the package; without it the test
skips and says so.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from blocks import alerts as render
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_alerts import Alert, AlertGroup
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import wait_for_setup

TOKEN = "alertmanager-e2e-token-0123456789"
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


CONFIG = """\
route:
  receiver: bot
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['route="wrong-token"']
      receiver: impostor
receivers:
  - name: bot
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {token}
  - name: impostor
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: not-the-token-0123456789
"""


@pytest.fixture
def alertmanager(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Start Alertmanager posting to a given URL; returns its base URL."""
    if BINARY is None:
        pytest.skip(
            "prometheus-alertmanager is not installed (scripts/test-deps installs it with "
            "apt-get when it can: Debian or Ubuntu, as root or with passwordless sudo)"
        )
    processes: list[subprocess.Popen[bytes]] = []

    def start(hook_url: str) -> str:
        config = tmp_path / "alertmanager.yml"
        config.write_text(CONFIG.format(url=hook_url, token=TOKEN))
        port = free_port()
        log = (tmp_path / "alertmanager.log").open("wb")
        process = subprocess.Popen(
            [
                str(BINARY),
                f"--config.file={config}",
                f"--storage.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--cluster.listen-address=",  # no gossip: one instance, no cluster port
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        processes.append(process)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError((tmp_path / "alertmanager.log").read_text())
            try:
                if httpx.get(base + "/-/ready", timeout=1).status_code == 200:
                    return base
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError("Alertmanager did not become ready")

    yield start
    for process in processes:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_for(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError("timed out waiting")


def inject(base: str, labels: dict[str, str], **extra: str) -> None:
    alert = {
        "labels": labels,
        "annotations": {
            "summary": "Disk almost full on db-1",
            "runbook_url": "https://runbooks.example.com/disk",
        },
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=disk",
        **extra,
    }
    response = httpx.post(base + "/api/v2/alerts", json=[alert], timeout=5)
    assert response.status_code == 200, response.text


def webhook_failures(base: str) -> float:
    text = httpx.get(base + "/metrics", timeout=5).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("alertmanager_notifications_failed_total")
        and 'integration="webhook"' in line
    )


@pytest.mark.scenario
def test_alertmanager_to_the_bot_and_back(
    start_bot: Callable[..., RunningBot],
    alertmanager: Callable[[str], str],
    slack: SlackEmulator,
    workspace: Workspace,
) -> None:
    bot = start_bot(alert_webhook_token=TOKEN, alerts_channel="#general")
    base = alertmanager(bot.base_url + "/hooks/alertmanager")
    db: Database = bot.runtime.services.db
    labels = {"alertname": "DiskFull", "severity": "critical", "instance": "db-1:9100"}

    def stored_group() -> AlertGroup | None:
        with db.read() as session:
            return session.exec(select(AlertGroup)).first()

    inject(base, labels)
    group = wait_for(stored_group)
    assert group.source == "alertmanager" and group.status == "firing"
    assert group.title == "Disk almost full on db-1" and group.severity == "critical"
    assert group.group_key == '{}:{alertname="DiskFull"}'
    with db.read() as session:
        (alert,) = session.exec(select(Alert)).all()
    assert alert.links["runbook"] == "https://runbooks.example.com/disk"
    assert alert.labels["instance"] == "db-1:9100"

    # The triage message appears; Declare opens the prefilled form; the incident is declared.
    def triage_message() -> dict[str, Any] | None:
        found = [m for m in slack.messages(workspace.general) if render.group_of(m)]
        return found[-1] if found else None

    message = wait_for(triage_message)
    assert "Disk almost full on db-1" in str(message["blocks"])
    driver = bot.driver(slack)
    driver.block_actions(
        render.DECLARE, user=workspace.alice, message=message, channel=workspace.general
    )
    form = wait_for(lambda: slack.current_view(workspace.alice))
    inputs = {b["block_id"]: b["element"] for b in form["blocks"] if b["type"] == "input"}
    assert inputs["title"]["initial_value"] == "Disk almost full on db-1"
    assert inputs["severity"]["initial_option"]["value"] == "sev1"
    values = {
        "title": {"title": inputs["title"]["initial_value"]},
        "severity": {"severity": "sev1"},
        "summary": {"summary": inputs["summary"]["initial_value"]},
        "impact": {"impact": ""},
        "manager": {"manager": workspace.alice},
    }
    assert driver.view_submission(form, values, user=workspace.alice).status == 200
    incident = wait_for_setup(bot)
    assert incident.channel_id is not None

    # The alert ends: Alertmanager sends the resolve, which closes the stored alert, and the
    # incident's channel is told (the incident stays open).
    inject(base, labels, endsAt=datetime.now(UTC).isoformat().replace("+00:00", "Z"))
    resolved = wait_for(lambda: (g := stored_group()) is not None and g.status == "resolved")
    assert resolved
    wait_for(
        lambda: any(
            "alerts of this incident resolved" in m.get("text", "")
            for m in slack.messages(incident.channel_id or "")
        )
    )
    with db.read() as session:
        (alert,) = session.exec(select(Alert)).all()
        assert alert.status == "resolved" and alert.resolved_at is not None

    # A receiver with the wrong token is refused (401) and nothing of it is stored.
    before = webhook_failures(base)
    inject(base, {"alertname": "Impostor", "route": "wrong-token"})
    wait_for(lambda: webhook_failures(base) > before)
    with db.read() as session:
        assert [g.title for g in session.exec(select(AlertGroup)).all()] == [
            "Disk almost full on db-1"
        ]
