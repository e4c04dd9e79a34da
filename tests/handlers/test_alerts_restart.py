"""SIGKILL during an escalation: after a restart it goes on, and no level is delivered twice
(its thread reply and DMs are notices planned with the claim, sent by the notice engine)."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bench.processes import ROOT, AppProcess, free_port
from playground.emulator import SlackEmulator
from tests.alert_fixtures import raw, send_alert
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN, SIGNING_SECRET

pytestmark = pytest.mark.scenario

TOKEN = "restart-test-token-0123456789"
RULES = """\
schedules:
  primary:
    timezone: UTC
    handover: monday 09:00
    start: 2026-01-05
    people: [{carol}]
policies:
  checkout:
    levels:
      - schedule: primary
      - users: [{bob}]
        after: 6s
      - users: [{alice}]
        after: 2s
rules:
  - name: checkout
    match: {{labels: {{service: checkout}}}}
    policy: checkout
"""


def start(slack: SlackEmulator, db_url: str, rules: Path, port: int) -> AppProcess:
    env = {
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_APP_TOKEN": "",
        "SLACK_API_URL": slack.api_url,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DATABASE_URL": db_url,
        "LOG_LEVEL": "WARNING",
        "ALERT_WEBHOOK_TOKEN": TOKEN,
        "ALERTS_CHANNEL": "#general",
        "ALERT_RULES_FILE": str(rules),
        "SCHEDULER_TICK_SECONDS": "0.3",
        # A notice the killed process was sending is taken over after this long (then looked
        # for before it is posted again).
        "NOTICE_LEASE_SECONDS": "5",
    }
    bot = AppProcess("the bot", [sys.executable, str(ROOT / "app.py")], env, port)
    bot.wait_ready()
    return bot


def escalations(slack: SlackEmulator, user: str) -> list[str]:
    return [m["text"] for m in slack.dms(user) if "Escalation level" in m.get("text", "")]


def fire_then_kill(
    slack: SlackEmulator,
    db_url: str,
    rules: Path,
    port: int,
    *,
    first_level: Callable[[], Any],
    timeout: float = 15,
) -> tuple[float, float]:
    """Start the bot, fire an alert, SIGKILL it once `first_level` shows; (when the alert
    was posted, seconds from then to the kill), on the monotonic clock."""
    bot = start(slack, db_url, rules, port)
    try:
        posted = time.monotonic()
        response = send_alert(
            f"http://127.0.0.1:{port}/hooks/alertmanager",
            raw("alertmanager_firing"),
            {"Authorization": f"Bearer {TOKEN}"},
        )
        assert response.status_code == 200
        slack.wait_for(first_level, timeout=timeout)
        bot.process.kill()  # SIGKILL: no shutdown of any kind
        bot.process.wait()
        return posted, time.monotonic() - posted
    finally:
        bot.stop()


def triage_replies(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    triage = [m for m in slack.messages(channel) if m.get("blocks")]
    return slack.replies(channel, triage[0]["ts"]) if triage else []


def test_sigkill_between_levels(
    slack: SlackEmulator, workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES.format(carol=workspace.carol, bob=workspace.bob, alice=workspace.alice))
    port = free_port()
    posted, killed = fire_then_kill(
        slack, db_url, rules, port, first_level=lambda: escalations(slack, workspace.carol)
    )
    if killed < 5.5:  # (a very slow machine may have reached level 2 before the kill)
        assert escalations(slack, workspace.bob) == []
    time.sleep(max(0.0, 6.5 - (time.monotonic() - posted)))  # level 2 falls due while down
    bot = start(slack, db_url, rules, port)
    try:
        slack.wait_for(lambda: escalations(slack, workspace.alice), timeout=20)
        # The thread replies are deliveries of their own: wait for them too.
        slack.wait_for(lambda: len(triage_replies(slack, workspace.general)) >= 3, timeout=20)
        time.sleep(1.0)  # a few more sweeps: nothing is delivered again
    finally:
        bot.stop()
    assert [
        len(escalations(slack, u)) for u in (workspace.carol, workspace.bob, workspace.alice)
    ] == [1, 1, 1]
    assert "level 1 of 3" in escalations(slack, workspace.carol)[0]
    assert "level 2 of 3" in escalations(slack, workspace.bob)[0]
    assert "level 3 of 3" in escalations(slack, workspace.alice)[0]
    [triage] = [m for m in slack.messages(workspace.general) if m.get("blocks")]
    replies = slack.replies(workspace.general, triage["ts"])
    # The thread replies are notices: each level's once (levels due together after the
    # restart are sent by the notice engine's threads in parallel: in either order).
    assert len(replies) == 3
    assert sorted(r["text"].split(":")[2].strip() for r in replies) == [
        "Escalation level 1 of 3",
        "Escalation level 2 of 3",
        "Escalation level 3 of 3",
    ]
