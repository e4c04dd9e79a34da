"""Alert triage in Slack, end to end: webhook -> triage message -> buttons -> incidents."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from blocks import alerts as render
from bot.slack import keyed
from bot.slack.directory import MessageRef
from playground.emulator import SlackEmulator
from storage.models import Incident, IncidentRole
from storage.models_alerts import AlertGroup
from tests.alert_fixtures import raw, send_alert
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, wait_for_setup

pytestmark = pytest.mark.scenario

TOKEN = "triage-test-token-0123456789"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


def post(bot: RunningBot, name: str, path: str = "/hooks/alertmanager") -> None:
    """Send as Alertmanager does (a 503 is sent again: tests/alert_fixtures.send_alert)."""
    response = send_alert(bot.base_url + path, raw(name), BEARER)
    assert response.status_code == 200, response.text


def triage_messages(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if render.group_of(m) is not None]


def wait_message(
    slack: SlackEmulator, channel: str, check: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    def found() -> dict[str, Any] | None:
        messages = triage_messages(slack, channel)
        return messages[-1] if messages and check(messages[-1]) else None

    return slack.wait_for(found, timeout=20)


def text_of(message: dict[str, Any]) -> str:
    return str(message.get("blocks"))


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        element["action_id"]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
        for element in block.get("elements", [])
    ]


@pytest.fixture
def alert_bot(start_bot: Callable[..., RunningBot], workspace: Workspace) -> RunningBot:
    return start_bot(alert_webhook_token=TOKEN, alerts_channel="#general")


def test_one_message_per_group_updated_in_place(
    alert_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    post(alert_bot, "alertmanager_firing")
    message = wait_message(slack, workspace.general, lambda m: "Checkout error rate" in text_of(m))
    assert "2 of 2 firing" in text_of(message)
    assert buttons(message) == [render.DECLARE, render.LINK, render.ACKNOWLEDGE, render.DISMISS]
    assert "runbooks.example.com/checkout/errors|Runbook" in text_of(message)
    post(alert_bot, "alertmanager_firing")  # a repeat: no new message
    post(alert_bot, "alertmanager_one_resolved")
    wait_message(slack, workspace.general, lambda m: "1 of 2 firing" in text_of(m))
    post(alert_bot, "alertmanager_resolved")
    done = wait_message(slack, workspace.general, lambda m: ":white_check_mark:" in text_of(m))
    assert render.ACKNOWLEDGE not in buttons(done)
    assert len(triage_messages(slack, workspace.general)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_acknowledge_and_dismiss(
    alert_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = alert_bot.driver(slack)
    post(alert_bot, "alertmanager_firing")
    message = wait_message(slack, workspace.general, lambda m: bool(buttons(m)))
    driver.block_actions(
        render.ACKNOWLEDGE, user=workspace.bob, message=message, channel=workspace.general
    )
    message = wait_message(slack, workspace.general, lambda m: "Acknowledged by" in text_of(m))
    assert f"<@{workspace.bob}>" in text_of(message) and render.ACKNOWLEDGE not in buttons(message)
    driver.block_actions(
        render.DISMISS, user=workspace.bob, message=message, channel=workspace.general
    )
    slack.wait_for("views.open")
    modal = slack.modal(workspace.bob)
    empty = driver.view_submission(
        modal, {render.REASON: {render.REASON: "  "}}, user=workspace.bob
    )
    assert empty.json == {"response_action": "errors", "errors": {"reason": "Give a reason."}}
    driver.view_submission(
        modal, {render.REASON: {render.REASON: "Load test <in staging>"}}, user=workspace.bob
    )
    message = wait_message(slack, workspace.general, lambda m: "Dismissed by" in text_of(m))
    assert "Load test &lt;in staging&gt;" in text_of(message) and buttons(message) == []


def test_declare_from_the_message_links_the_incident(
    alert_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = alert_bot.driver(slack)
    post(alert_bot, "alertmanager_firing")
    message = wait_message(slack, workspace.general, lambda m: bool(buttons(m)))
    driver.block_actions(
        render.DECLARE, user=workspace.alice, message=message, channel=workspace.general
    )
    slack.wait_for("views.open")
    form = slack.modal(workspace.alice)
    inputs = {b["block_id"]: b["element"] for b in form["blocks"] if b["type"] == "input"}
    assert inputs["title"]["initial_value"] == "Checkout error rate above 5%"
    assert inputs["severity"]["initial_option"]["value"] == "sev1"  # critical
    assert "2 alert(s) from Alertmanager" in inputs["summary"]["initial_value"]
    assert "https://runbooks.example.com/checkout/errors" in inputs["summary"]["initial_value"]
    values = {
        "title": {"title": inputs["title"]["initial_value"]},
        "severity": {"severity": "sev1"},
        "summary": {"summary": inputs["summary"]["initial_value"]},
        "impact": {"impact": ""},
        "manager": {"manager": workspace.alice},
    }
    assert driver.view_submission(form, values, user=workspace.alice).status == 200
    incident = wait_for_setup(alert_bot)
    message = wait_message(
        slack, workspace.general, lambda m: "Declared as incident #1" in text_of(m)
    )
    assert buttons(message) == []
    with alert_bot.runtime.services.db.read() as session:
        group = session.exec(select(AlertGroup)).one()
    assert (group.state, group.incident_id) == ("declared", incident.id)
    # The alerts resolve: the incident channel is told, the incident stays open.
    post(alert_bot, "alertmanager_one_resolved")
    post(alert_bot, "alertmanager_resolved")
    assert incident.channel_id is not None
    slack.wait_for(
        lambda: any(
            "alerts of this incident resolved" in m.get("text", "")
            for m in slack.messages(incident.channel_id or "")
        ),
        timeout=10,
    )
    with alert_bot.runtime.services.db.read() as session:
        assert session.get(Incident, incident.id).status == "investigating"  # type: ignore[union-attr]


def test_link_offers_only_incidents_the_clicker_may_see(
    alert_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = alert_bot.driver(slack)
    public = declare(
        alert_bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Checkout is slow",
    )
    declare(
        alert_bot,
        driver,
        slack,
        user=workspace.carol,
        channel=workspace.general,
        title="Secret breach",
        private=True,
    )
    post(alert_bot, "alertmanager_firing")
    message = wait_message(slack, workspace.general, lambda m: bool(buttons(m)))
    driver.block_actions(
        render.LINK, user=workspace.bob, message=message, channel=workspace.general
    )
    slack.wait_for("views.open", count=3)
    modal = slack.modal(workspace.bob)
    select_block = next(b for b in modal["blocks"] if b["type"] == "input")
    labels = [o["text"]["text"] for o in select_block["element"]["options"]]
    assert labels == ["#1 Checkout is slow"]
    result = driver.view_submission(
        modal, {render.INCIDENT: {render.INCIDENT: str(public.id)}}, user=workspace.bob
    )
    assert result.status == 200
    wait_message(slack, workspace.general, lambda m: "Linked to incident #1" in text_of(m))


RULES = """\
schedules:
  primary:
    timezone: UTC
    handover: monday 09:00
    start: 2026-01-05
    people: [{oncall}]
policies:
  checkout:
    levels:
      - schedule: primary
      - users: [{lead}]
        after: 1s
rules:
  - name: checkout escalates
    match: {{labels: {{service: checkout}}, severity: warning}}
    policy: checkout
  - name: checkout declares
    match: {{labels: {{service: checkout}}}}
    declare: sev1
    policy: checkout
"""


def rules_bot(
    start_bot: Callable[..., RunningBot], tmp_path: Path, workspace: Workspace
) -> RunningBot:
    path = tmp_path / "rules.yml"
    path.write_text(RULES.format(oncall=workspace.carol, lead=workspace.bob))
    return start_bot(
        alert_webhook_token=TOKEN, alerts_channel="#general", alert_rules_file=str(path)
    )


def test_a_declare_rule_declares_with_the_on_call_manager(
    start_bot: Callable[..., RunningBot], tmp_path: Path, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = rules_bot(start_bot, tmp_path, workspace)
    post(bot, "alertmanager_firing")
    incident = wait_for_setup(bot)
    assert (incident.title, incident.severity) == ("Checkout error rate above 5%", "sev1")
    with bot.runtime.services.db.read() as session:
        roles = session.exec(
            select(IncidentRole).where(IncidentRole.incident_id == incident.id)
        ).all()
    assert {(r.role, r.user_id) for r in roles} >= {("incident_manager", workspace.carol)}
    wait_message(slack, workspace.general, lambda m: "Declared as incident #1" in text_of(m))
    post(bot, "alertmanager_firing")  # a repeat declares nothing more
    time.sleep(0.5)
    with bot.runtime.services.db.read() as session:
        assert len(session.exec(select(Incident)).all()) == 1


def test_escalation_reaches_the_on_call_person_then_the_next_level(
    start_bot: Callable[..., RunningBot], tmp_path: Path, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = rules_bot(start_bot, tmp_path, workspace)
    triage = bot.runtime.services.alerts
    assert triage is not None
    body = raw("alertmanager_firing").replace(b'"critical"', b'"warning"')
    response = send_alert(bot.base_url + "/hooks/alertmanager", body, BEARER)
    assert response.status_code == 200
    message = wait_message(slack, workspace.general, lambda m: bool(buttons(m)))
    triage.sweep()  # level 1 (after 0 s): the on-call person
    slack.wait_for(
        lambda: any(
            "Escalation level 1 of 2" in m.get("text", "") for m in slack.dms(workspace.carol)
        )
    )
    time.sleep(1.1)
    triage.sweep()  # level 2 (1 s later): the lead
    slack.wait_for(
        lambda: any(
            "Escalation level 2 of 2" in m.get("text", "") for m in slack.dms(workspace.bob)
        )
    )
    # The thread replies are notices too, sent by the notice engine: wait for them.
    replies = slack.wait_for(
        lambda: r if len(r := slack.replies(workspace.general, message["ts"])) >= 2 else None
    )
    assert len(replies) == 2
    assert "level 1 of 2" in replies[0]["text"] and f"<@{workspace.carol}>" in replies[0]["text"]
    assert "level 2 of 2" in replies[1]["text"] and f"<@{workspace.bob}>" in replies[1]["text"]
    assert all(keyed.key_of(r) for r in replies)  # posted under their notice's key
    [dm] = [m for m in slack.dms(workspace.bob) if "Escalation level" in m.get("text", "")]
    link = bot.runtime.services.directory.permalink(MessageRef(workspace.general, message["ts"]))
    assert link and dm["text"] == f"{replies[1]['text']} <{link}|Open the alert>"
    triage.sweep()  # nothing more: each level once
    time.sleep(0.5)
    assert len(slack.replies(workspace.general, message["ts"])) == 2
    assert len(slack.dms(workspace.bob)) == 1


def test_oncall_command(
    start_bot: Callable[..., RunningBot], tmp_path: Path, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = rules_bot(start_bot, tmp_path, workspace)
    result = bot.driver(slack).slash_command(
        "oncall", user=workspace.alice, channel=workspace.general
    )
    text = response_to(slack, result.response_url)["text"]
    assert f"• primary: <@{workspace.carol}> until" in text
    assert (
        f"1. at once: <@{workspace.carol}> (schedule primary); 2. after 1s: <@{workspace.bob}>"
        in text
    )
