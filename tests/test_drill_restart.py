"""A game day across SIGKILL: every scripted step plays once, in the drill channel only.

The bot runs as `python app.py`; Slack answers slowly, so the kill lands while steps are
being posted (one may be in flight: Slack makes it, the killed bot never hears back). The
restarted bot plays what is left, finds the step that went out before the kill by its key
instead of posting it again, and plays nothing twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from playground.emulator import SlackDriver, SlackEmulator
from storage import Database
from storage.models import Incident
from tests.harness import SIGNING_SECRET
from tests.processes import StartBot, bot_processes  # noqa: F401

pytestmark = pytest.mark.scenario

STEPS = 10
SETTINGS = {
    "SCHEDULER_TICK_SECONDS": "0.3",
    "REMINDER_LEASE_SECONDS": "5",  # a killed bot's claimed step is taken over after 5 s
    "REMINDER_INTERVALS": "sev1=off,sev2=off,sev3=off,sev4=off",
    "NO_MANAGER_NUDGE_AFTER": "off",
}


def _scenario(folder: Path) -> str:
    steps = "".join(
        f"  - at: {n // 3}s\n    kind: message\n    from: Colleague {n}\n    text: Step {n}\n"
        for n in range(STEPS)
    )
    (folder / "quick.yml").write_text(f"title: Quick game day\nseverity: sev2\nsteps:\n{steps}")
    return str(folder)


def _step_posts(slack: SlackEmulator) -> list[dict[str, Any]]:
    """chat.postMessage calls (answered or not) that play a drill step."""
    return [p for p in slack.calls_started("chat.postMessage") if "drill_step:" in str(p)]


def _played(slack: SlackEmulator, channel: str) -> list[str]:
    return [
        str(b["block_id"])
        for m in slack.messages(channel)
        for b in m.get("blocks") or []
        if str(b.get("block_id", "")).startswith("drill_step:")
    ]


def test_a_scenario_survives_sigkill_and_plays_each_step_once(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    alice = slack.add_user("alice")
    general = slack.add_channel("general", members=[alice], is_general=True)
    settings = {**SETTINGS, "DRILLS_DIR": _scenario(tmp_path)}
    first = bot_processes(**settings)
    driver = SlackDriver(first.events_url, SIGNING_SECRET, slack)
    slack.set_latency(0.4)  # each step's post takes a while: the kill lands between them
    assert driver.slash_command("drill quick", user=alice, channel=general).status == 200
    slack.wait_for(lambda: len(_step_posts(slack)) >= 3, timeout=30, interval=0.02)
    first.kill()  # a step's post is (most likely) in flight
    assert len(_step_posts(slack)) < STEPS, "the kill interrupted nothing"
    slack.set_latency(0.0)
    bot_processes(**settings)
    database = Database(db_url)
    try:
        with database.read() as session:
            [incident] = session.exec(select(Incident)).all()
    finally:
        database.dispose()
    channel = str(incident.channel_id)
    slack.wait_for(lambda: len(_played(slack, channel)) >= STEPS, timeout=40, interval=0.1)
    played = _played(slack, channel)
    assert played == [f"drill_step:drill-{incident.id}-{n}" for n in range(STEPS)]
    assert all(p["channel"] == channel for p in _step_posts(slack))
