"""SIGKILL during an incident's escalation: an alert rule declares the incident with the
on-call person as manager (who has not acknowledged); after a restart the escalation goes
on, and no level is delivered twice."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from bench.processes import free_port
from playground.emulator import SlackEmulator
from storage import Database
from storage.models import Incident
from tests.conftest import Workspace
from tests.handlers.test_alerts_restart import fire_then_kill, start

pytestmark = pytest.mark.scenario

RULES = """\
schedules:
  primary:
    timezone: UTC
    handover: monday 09:00
    start: 2026-01-05
    people: [{carol}]
policies:
  incidents:
    levels:
      - users: [{carol}]
      - users: [{bob}]
        after: 6s
      - users: [{alice}]
        after: 2s
incidents:
  policy: incidents
rules:
  - name: checkout
    match: {{labels: {{service: checkout}}}}
    declare: sev1
    oncall: primary
"""


def levels(slack: SlackEmulator, user: str) -> list[str]:
    return [
        m["text"]
        for m in slack.dms(user)
        if "not acknowledged by its incident manager" in m.get("text", "")
    ]


def test_sigkill_between_an_incidents_levels(
    slack: SlackEmulator, workspace: Workspace, db_url: str, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yml"
    rules.write_text(RULES.format(carol=workspace.carol, bob=workspace.bob, alice=workspace.alice))
    port = free_port()
    posted, killed = fire_then_kill(
        slack, db_url, rules, port, first_level=lambda: levels(slack, workspace.carol), timeout=30
    )
    if killed < 5.5:  # (a very slow machine may have reached level 2 before the kill)
        assert levels(slack, workspace.bob) == []
    time.sleep(max(0.0, 6.5 - (time.monotonic() - posted)))  # level 2 falls due while down
    bot = start(slack, db_url, rules, port)
    try:
        slack.wait_for(lambda: levels(slack, workspace.alice), timeout=30)
        # The mentions in the incident's channel are deliveries of their own (after the
        # channel, which the killed process may not have made): wait for them too.
        slack.wait_for(lambda: len(mentions(slack, db_url)) >= 3, timeout=30)
        time.sleep(1.0)  # a few more sweeps: nothing is delivered again
    finally:
        bot.stop()
    counts = [len(levels(slack, u)) for u in (workspace.carol, workspace.bob, workspace.alice)]
    assert counts == [1, 1, 1]
    assert "level 2 of 3" in levels(slack, workspace.bob)[0]
    assert len(mentions(slack, db_url)) == 3


def mentions(slack: SlackEmulator, db_url: str) -> list[dict[str, Any]]:
    """The escalation's mentions in the incident's channel (none while it has no channel)."""
    database = Database(db_url)
    try:
        with database.read() as session:
            [incident] = session.exec(select(Incident)).all()
    finally:
        database.engine.dispose()
    if incident.channel_id is None:
        return []
    return [
        m
        for m in slack.messages(incident.channel_id)
        if "not acknowledged by its incident manager" in m.get("text", "")
    ]
