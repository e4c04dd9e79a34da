"""Roles: commands, the card's Assign role button, handovers and the manager's checklist."""

from __future__ import annotations

from typing import Any

import pytest

from bot import incidents
from bot.core.vocabulary import Role
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import must

pytestmark = pytest.mark.scenario


def _roles(bot: RunningBot) -> dict[Role, str]:
    with bot.runtime.services.db.session() as session:
        return incidents.roles_of(session, incident_id=1)


@pytest.fixture
def declare_fields() -> dict[str, Any]:
    return {}  # Alice, who declares, manages it


def test_manager_handover(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    assert _roles(bot)[Role.INCIDENT_MANAGER] == workspace.alice
    driver.slash_command(
        f"manager <@{workspace.carol}|carol>",
        user=workspace.alice,
        channel=must(incident.channel_id),
    )
    slack.wait_for(lambda: _roles(bot)[Role.INCIDENT_MANAGER] == workspace.carol)
    slack.wait_for(lambda: slack.dms(workspace.carol))
    assert "Your checklist" in slack.dms(workspace.carol)[0]["text"]
    slack.wait_for(
        lambda: any("Handover" in m["text"] for m in slack.messages(must(incident.channel_id)))
    )
    handover = next(m for m in slack.messages(must(incident.channel_id)) if "Handover" in m["text"])
    assert workspace.alice in handover["text"] and workspace.carol in handover["text"]
    # the invitation is a delivery of its own (the outbox), not part of the notice
    slack.wait_for(lambda: workspace.carol in slack.members(must(incident.channel_id)))
    slack.wait_for(
        lambda: workspace.carol in slack.channel(must(incident.channel_id))["topic"]["value"]
    )


def test_role_command_and_aliases(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    driver.slash_command(
        f"role comms <@{workspace.bob}|bob>",
        user=workspace.alice,
        channel=must(incident.channel_id),
    )
    driver.slash_command(
        f"role scribe <@{workspace.carol}>", user=workspace.alice, channel=must(incident.channel_id)
    )
    slack.wait_for(lambda: len(_roles(bot)) == 3)
    roles = _roles(bot)
    assert roles[Role.COMMS_LEAD] == workspace.bob and roles[Role.SCRIBE] == workspace.carol
    card = slack.message(must(incident.channel_id), must(incident.card_ts))
    slack.wait_for(
        lambda: (
            workspace.carol
            in str(must(slack.message(must(incident.channel_id), must(incident.card_ts)))["blocks"])
        )
    )
    assert card is not None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("role boss <@{bob}>", "Unknown role `boss`"),
        ("role comms bob", "`bob` is not a Slack user"),
        ("role comms <#C123|general>", "is not a Slack user"),
        ("manager", "`(nothing)` is not a Slack user"),
        ("role", "Say which role and who"),
        ("manager <@U0NOBODY1|ghost>", "is not a user of this workspace"),
        ("manager <@U0BOT00001|incident-bot>", "is a bot"),
    ],
)
def test_bad_role_input_changes_nothing(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
    text: str,
    expected: str,
) -> None:
    result = driver.slash_command(
        text.format(bob=workspace.bob), user=workspace.alice, channel=must(incident.channel_id)
    )
    assert expected in response_to(slack, result.response_url)["text"]
    assert _roles(bot) == {Role.INCIDENT_MANAGER: workspace.alice}


def test_assign_role_button_and_modal(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    card = slack.message(must(incident.channel_id), must(incident.card_ts))
    driver.block_actions(
        "incident_assign_role",
        user=workspace.alice,
        message=card,
        channel=must(incident.channel_id),
    )
    slack.wait_for("views.open", count=2)
    form = slack.modal(workspace.alice)
    assert form["callback_id"] == "role_modal"
    result = driver.view_submission(
        form,
        {"role": {"role": "incident_manager"}, "user": {"user": workspace.bob}},
        user=workspace.alice,
    )
    assert result.status == 200
    slack.wait_for(lambda: _roles(bot)[Role.INCIDENT_MANAGER] == workspace.bob)
    slack.wait_for(lambda: slack.dms(workspace.bob))
    same = driver.view_submission(
        form,
        {"role": {"role": "incident_manager"}, "user": {"user": workspace.bob}},
        user=workspace.alice,
    )
    assert same.json["response_action"] == "errors"
