"""Escalating an incident whose manager has not acknowledged, end to end (the emulator, the
real bot, a fake Twilio built from its docs): level by level on a controllable clock, a
mention in the incident channel and a DM, then an SMS through the stakeholder SMS channel;
Acknowledge (the manager only) or any change the manager makes stops it; no level is
repeated by another replica or after a restart; an alert group's `sms: true` level texts."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from blocks.ids import Action
from bot.slack.alert_triage import AlertTriage
from playground.emulator import SlackEmulator
from storage.models import Incident
from storage.models_alerts import IncidentEscalation
from storage.models_stakeholders import StakeholderNotice
from storage.types import utcnow
from tests.alert_fixtures import raw, send_alert
from tests.conftest import Workspace
from tests.fake_providers import TWILIO_SID, TWILIO_TOKEN, FakeProviders
from tests.harness import RunningBot
from tests.scenarios import declare, must

pytestmark = pytest.mark.scenario

BOB_PHONE = "+15551234567"
TOKEN = "paging-test-token-0123456789"
RULES = """\
phones:
  {bob}: "{phone}"
policies:
  major:
    levels:
      - users: [{carol}]
      - users: [{bob}]
        after: 10m
        sms: true
      - users: [{alice}]
        after: 30m
incidents:
  policy: major
  severities: [sev1, sev2]
rules:
  - name: checkout pages
    match: {{labels: {{service: checkout}}}}
    policy: major
"""


@pytest.fixture
def fakes() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


@pytest.fixture
def paging_bot(
    start_bot: Callable[..., RunningBot],
    workspace: Workspace,
    tmp_path: Path,
    fakes: FakeProviders,
) -> RunningBot:
    path = tmp_path / "rules.yml"
    path.write_text(
        RULES.format(
            alice=workspace.alice, bob=workspace.bob, carol=workspace.carol, phone=BOB_PHONE
        )
    )
    return start_bot(
        alert_rules_file=str(path),
        alert_webhook_token=TOKEN,
        alerts_channel="#general",
        sms_provider="twilio",
        twilio_account_sid=TWILIO_SID,
        twilio_auth_token=TWILIO_TOKEN,
        twilio_from="+15550001111",
        twilio_api_url=fakes.url,
        scheduler_tick_seconds=0.5,
    )


def escalations(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if "Escalation level" in m.get("text", "")]


def dm_levels(slack: SlackEmulator, user: str) -> list[str]:
    return [m["text"] for m in slack.dms(user) if "Escalation level" in m.get("text", "")]


def triage_messages(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if m.get("blocks") and "firing" in str(m["blocks"])]


def planned_here(bot: RunningBot) -> int:
    """The escalation messages planned for incident channels (one per claimed level)."""
    with bot.runtime.services.db.read() as session:
        rows = session.exec(
            select(StakeholderNotice).where(StakeholderNotice.recipient == "incident-channel")
        ).all()
    return len(rows)


def at(triage: AlertTriage, when: datetime) -> None:
    triage.clock = lambda: when
    triage.escalate()


def current_status(bot: RunningBot, incident_id: int | None) -> str:
    with bot.runtime.services.db.read() as session:
        return must(session.get(Incident, incident_id)).status


def row(bot: RunningBot) -> IncidentEscalation:
    with bot.runtime.services.db.read() as session:
        return session.exec(select(IncidentEscalation)).one()


def test_an_unacknowledged_incident_escalates_level_by_level_until_acknowledged(
    paging_bot: RunningBot, slack: SlackEmulator, workspace: Workspace, fakes: FakeProviders
) -> None:
    driver = paging_bot.driver(slack)
    alice, bob, carol = workspace.alice, workspace.bob, workspace.carol
    start = utcnow()
    incident = declare(
        paging_bot, driver, slack, user=alice, channel=workspace.general, manager=carol
    )
    channel = must(incident.channel_id)
    triage = must(paging_bot.runtime.services.alerts)

    at(triage, start + timedelta(seconds=30))  # level 1 (at once): a mention and a DM
    [first] = slack.wait_for(lambda: escalations(slack, channel))
    assert "Escalation level 1 of 3" in first["text"] and f"<@{carol}>" in first["text"]
    assert "not acknowledged by its incident manager" in first["text"]
    slack.wait_for(lambda: dm_levels(slack, carol))
    at(triage, start + timedelta(minutes=5))  # nothing new is due
    assert fakes.texts == []

    at(triage, start + timedelta(minutes=11))  # level 2: a mention, a DM, an SMS
    slack.wait_for(lambda: len(escalations(slack, channel)) == 2)
    slack.wait_for(lambda: dm_levels(slack, bob))
    [text] = slack.wait_for(lambda: fakes.texts, timeout=10)
    assert text["to"] == BOB_PHONE and f"Incident #{incident.number}" in text["body"]
    assert "escalation 2/3" in text["body"]

    # Another replica, or the bot after a restart, repeats no level.
    other = AlertTriage(paging_bot.runtime.services, triage.rules)
    at(other, start + timedelta(minutes=12))
    at(triage, start + timedelta(minutes=12))
    assert len(escalations(slack, channel)) == 2 and len(fakes.texts) == 1
    assert row(paging_bot).level == 2

    # Only the incident manager acknowledges; Bob is refused and nothing changes.
    message = escalations(slack, channel)[-1]
    driver.block_actions(Action.ACKNOWLEDGE_INCIDENT, user=bob, message=message, channel=channel)
    slack.wait_for(
        lambda: any(
            "acknowledge incident #1 for its incident manager" in r["body"].get("text", "")
            for r in slack.responses
        )
    )
    assert row(paging_bot).acknowledged_at is None
    driver.block_actions(Action.ACKNOWLEDGE_INCIDENT, user=carol, message=message, channel=channel)
    slack.wait_for(lambda: row(paging_bot).acknowledged_by == carol)
    at(triage, start + timedelta(hours=2))  # level 3 would be due: it stopped
    assert len(escalations(slack, channel)) == 2 and dm_levels(slack, alice) == []


def test_the_manager_acting_acknowledges_and_a_self_declared_incident_never_escalates(
    paging_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = paging_bot.driver(slack)
    alice, carol = workspace.alice, workspace.carol
    start = utcnow()
    incident = declare(
        paging_bot, driver, slack, user=alice, channel=workspace.general, manager=carol
    )
    channel = must(incident.channel_id)
    assert row(paging_bot).acknowledged_at is None
    driver.slash_command("status identified", user=alice, channel=channel)  # not the manager
    slack.wait_for(lambda: current_status(paging_bot, incident.id) == "identified")
    assert row(paging_bot).acknowledged_at is None
    driver.slash_command("severity sev1", user=carol, channel=channel)  # the manager acts
    slack.wait_for(lambda: row(paging_bot).acknowledged_by == carol)
    # Level 1 is due at once (the worker may have claimed it already: then its message, a
    # notice, arrives whenever the notice engine sends it); nothing follows.
    triage = must(paging_bot.runtime.services.alerts)
    claimed = planned_here(paging_bot)
    at(triage, start + timedelta(hours=1))
    assert planned_here(paging_bot) == claimed <= 1
    slack.wait_for(lambda: len(escalations(slack, channel)) == claimed)
    time.sleep(0.5)  # a few notice ticks: nothing more
    assert len(escalations(slack, channel)) == claimed
    assert dm_levels(slack, workspace.bob) == []

    # Declared by its own manager: acknowledged from the start, nothing escalates.
    declare(paging_bot, driver, slack, user=alice, channel=workspace.general, title="Mine")
    with paging_bot.runtime.services.db.read() as session:
        assert len(session.exec(select(IncidentEscalation)).all()) == 1


def test_an_alert_groups_sms_level_texts_through_the_sms_channel(
    paging_bot: RunningBot, slack: SlackEmulator, workspace: Workspace, fakes: FakeProviders
) -> None:
    body = raw("alertmanager_firing")
    response = send_alert(
        paging_bot.base_url + "/hooks/alertmanager", body, {"Authorization": f"Bearer {TOKEN}"}
    )
    assert response.status_code == 200
    triage = must(paging_bot.runtime.services.alerts)
    slack.wait_for(lambda: triage_messages(slack, workspace.general), timeout=20)
    at(triage, utcnow())  # level 1: a reply and a DM (no SMS at this level)
    slack.wait_for(lambda: dm_levels(slack, workspace.carol))
    at(triage, utcnow() + timedelta(minutes=11))
    [text] = slack.wait_for(lambda: fakes.texts, timeout=10)
    assert text["to"] == BOB_PHONE and "Alert not acknowledged (escalation 2/3)" in text["body"]
    at(triage, utcnow() + timedelta(minutes=12))
    assert len(fakes.texts) == 1
