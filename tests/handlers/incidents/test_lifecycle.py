"""Status, severity, updates and resolve: commands, card controls and modals."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlmodel import select

from bot import incidents
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident, IncidentUpdate
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, must

pytestmark = pytest.mark.scenario


def _incident(bot: RunningBot) -> Incident:
    with bot.runtime.services.db.session() as session:
        return incidents.get(session, incident_id=1)


def _card(slack: SlackEmulator, incident: Incident) -> dict:
    message = slack.message(must(incident.channel_id), must(incident.card_ts))
    assert message is not None
    return message


def test_status_through_every_stage_to_resolved(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = must(incident.channel_id)
    for n, status in enumerate(("identified", "monitoring"), start=1):
        result = driver.slash_command(f"status {status}", user=workspace.bob, channel=channel)
        assert result.status == 200
        slack.wait_for(lambda s=status: _incident(bot).status == s)  # type: ignore[misc]
        slack.wait_for("chat.update", count=n)
    current = _incident(bot)
    assert current.identified_at is not None and current.monitoring_at is not None
    assert current.identified_at <= current.monitoring_at
    # Bob is the manager: his first action acknowledged the incident.
    assert current.acknowledged_at == current.identified_at
    slack.wait_for(lambda: "Monitoring" in slack.channel(channel)["topic"]["value"])
    assert slack.channel(channel)["topic"]["value"] == (
        f"SEV2 | Monitoring | IM: <@{workspace.bob}>"
    )
    slack.wait_for(  # the notices are deliveries of their own, next to the topic's
        lambda: any(
            "from Investigating to *Identified*" in m["text"] for m in slack.messages(channel)
        )
    )
    assert "Monitoring" in str(_card(slack, current)["blocks"])

    driver.slash_command("resolve", user=workspace.bob, channel=channel)
    slack.wait_for("views.open", count=2)
    form = slack.modal(workspace.bob)
    assert form["callback_id"] == "resolve_modal"
    empty = driver.view_submission(form, {"resolution": {"resolution": " "}}, user=workspace.bob)
    assert empty.json["response_action"] == "errors"
    done = driver.view_submission(
        form, {"resolution": {"resolution": "Rolled back release 42"}}, user=workspace.bob
    )
    assert (done.status == 200 and done.json is None) or done.json == {}
    slack.wait_for(lambda: _incident(bot).status == "resolved")
    resolved = _incident(bot)
    assert resolved.resolved_at is not None and resolved.resolution == "Rolled back release 42"
    slack.wait_for(lambda: "Rolled back release 42" in str(_card(slack, resolved)["blocks"]))
    card_actions = str(_card(slack, resolved)["blocks"])
    assert "incident_resolve" not in card_actions  # no Resolve button once resolved


def test_bad_status_and_severity_list_valid_values_and_change_nothing(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    bad = driver.slash_command(
        "status fixed", user=workspace.bob, channel=must(incident.channel_id)
    )
    # A listener that fails right after ack() still answers Slack at once (see handlers/guard).
    assert bad.status == 200 and bad.elapsed < 1.0
    text = response_to(slack, bad.response_url)["text"]
    assert "Unknown status `fixed`" in text
    assert "investigating, identified, monitoring, resolved" in text
    bad = driver.slash_command(
        "severity sev9", user=workspace.bob, channel=must(incident.channel_id)
    )
    text = response_to(slack, bad.response_url)["text"]
    assert "Unknown severity `sev9`" in text and "SEV1, SEV2, SEV3, SEV4" in text
    missing = driver.slash_command(
        "severity", user=workspace.bob, channel=must(incident.channel_id)
    )
    assert "Valid severities" in response_to(slack, missing.response_url)["text"]
    current = _incident(bot)
    assert (current.status, current.severity) == ("investigating", "sev2")
    assert slack.calls_to("chat.update") == []


def test_commands_outside_incident_channel_point_to_list(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    for text in (
        "status identified",
        "severity sev1",
        "update hi",
        "resolve",
        f"manager <@{workspace.carol}|carol>",
    ):
        result = driver.slash_command(text, user=workspace.alice, channel=workspace.general)
        answer = response_to(slack, result.response_url)["text"]
        assert "works inside an incident's channel" in answer and "/incident list" in answer
    assert _incident(bot).status == "investigating"


def test_update_posts_in_channel_and_under_announcement(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    bot = start_bot(incident_broadcast_channel=announce)
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    driver.slash_command(
        "update Found the bad query", user=workspace.alice, channel=must(incident.channel_id)
    )
    slack.wait_for("views.open", count=2)
    form = slack.modal(workspace.alice)
    message = next(b for b in form["blocks"] if b.get("block_id") == "message")
    assert message["element"]["initial_value"] == "Found the bad query"
    result = driver.view_submission(
        form,
        {
            "message": {"message": "Found the bad query; rolling back"},
            "status": {"status": "identified"},
        },
        user=workspace.alice,
    )
    assert result.status == 200
    slack.wait_for(lambda: slack.replies(announce, must(incident.broadcast_ts)))
    in_channel = [
        m for m in slack.messages(must(incident.channel_id)) if "rolling back" in m.get("text", "")
    ]
    assert len(in_channel) == 1
    thread = slack.replies(announce, must(incident.broadcast_ts))
    assert "rolling back" in thread[-1]["text"]

    def recorded() -> IncidentUpdate | None:
        with bot.runtime.services.db.session() as session:
            row = session.exec(select(IncidentUpdate)).one()
        return row if row.broadcast_ts else None

    update = slack.wait_for(recorded)
    with bot.runtime.services.db.session() as session:
        current = incidents.get(session, incident_id=incident.id or 0)
    assert update.status == "identified" and update.channel_ts == in_channel[0]["ts"]
    assert current.status == "identified" and current.last_update_at == update.posted_at
    assert len(slack.messages(announce)) == 1  # still one card in the channel


def test_update_form_rejects_empty_message(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    driver.slash_command("update", user=workspace.alice, channel=must(incident.channel_id))
    slack.wait_for("views.open", count=2)
    form = slack.modal(workspace.alice)
    result = driver.view_submission(form, {"message": {"message": ""}}, user=workspace.alice)
    assert result.json["response_action"] == "errors"
    assert "message" in result.json["errors"]


def test_card_controls(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    card = _card(slack, incident)
    channel = must(incident.channel_id)
    driver.block_actions(
        "incident_set_severity", user=workspace.bob, message=card, channel=channel, value="sev1"
    )
    slack.wait_for(lambda: _incident(bot).severity == "sev1")
    driver.block_actions(
        "incident_set_status", user=workspace.bob, message=card, channel=channel, value="identified"
    )
    slack.wait_for(lambda: _incident(bot).status == "identified")
    driver.block_actions("incident_post_update", user=workspace.bob, message=card, channel=channel)
    slack.wait_for("views.open", count=2)
    assert slack.modal(workspace.bob)["callback_id"] == "update_modal"
    driver.block_actions("incident_resolve", user=workspace.alice, message=card, channel=channel)
    slack.wait_for("views.open", count=3)
    assert slack.modal(workspace.alice)["callback_id"] == "resolve_modal"
    slack.wait_for(lambda: "SEV1" in str(_card(slack, incident)["blocks"]))
    # The topic is a delivery of its own, next to the card's.
    slack.wait_for(lambda: slack.channel(channel)["topic"]["value"].startswith("SEV1 | Identified"))


def test_resolved_incident_can_be_reopened(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    driver.slash_command("status resolved", user=workspace.bob, channel=must(incident.channel_id))
    slack.wait_for(lambda: _incident(bot).status == "resolved")
    again = driver.slash_command(
        "update more", user=workspace.bob, channel=must(incident.channel_id)
    )
    assert "resolved" in response_to(slack, again.response_url)["text"]
    driver.slash_command(
        "status investigating", user=workspace.bob, channel=must(incident.channel_id)
    )
    slack.wait_for(lambda: _incident(bot).status == "investigating")
    assert _incident(bot).resolved_at is None
