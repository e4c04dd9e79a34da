"""The permission gaps of issue 11's follow-ups, end to end (the emulator and the real bot):
the bot's own business (`/incident admin`, `/incident maintenance`, `/incident component`, the
maintenance form) is for incident admins, and refused with how to set INCIDENT_ADMINS when
there are none; publishing from the declare and update forms needs STATUS_PAGE; an alert
group's Acknowledge, Dismiss and Link are for the members of its triage channel and admins.
Each refusal is checked to have changed nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from blocks import alerts as render
from playground.emulator import SlackEmulator
from storage.models import Incident, IncidentUpdate
from storage.models_alerts import AlertGroup
from storage.models_statuspage import StatusComponent, StatusIncident
from tests.alert_fixtures import raw, send_alert
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, declare_values, must, open_declare_form
from tests.statuspage_fixtures import page_file

pytestmark = pytest.mark.scenario

HOW_TO = "Set INCIDENT_ADMINS to Slack user ids"


def answer(slack: SlackEmulator, result: Any) -> str:
    text = str(response_to(slack, result.response_url)["text"])
    assert "Traceback" not in text
    return text


def rows(bot: RunningBot, model: Any) -> list[Any]:
    with bot.runtime.services.db.read() as session:
        return list(session.exec(select(model)).all())


# -- /incident admin ------------------------------------------------------------------------


def test_admin_deliveries_is_refused_while_incident_admins_is_empty(
    bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = bot.driver(slack)
    result = driver.slash_command("admin deliveries", user=workspace.bob, channel=workspace.general)
    text = answer(slack, result)
    assert "only incident admins can, and none are set" in text and HOW_TO in text
    assert "Deliveries:" not in text
    clicked = driver.block_actions(
        "outbox_retry_delivery",
        user=workspace.bob,
        message={"text": "x", "blocks": []},
        channel=workspace.general,
        value="1",
        ephemeral=True,
    )
    assert HOW_TO in answer(slack, clicked)


# -- the status page's own business ---------------------------------------------------------


@pytest.fixture
def page_bot(
    start_bot: Callable[..., RunningBot], workspace: Workspace, tmp_path: Path
) -> RunningBot:
    return start_bot(
        status_page_file=page_file(tmp_path),
        status_page_refresh_seconds=0.2,
        incident_admins=workspace.alice,
    )


def test_maintenance_and_components_are_for_incident_admins(
    page_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = page_bot.driver(slack)
    opened = len(slack.calls_to("views.open"))
    result = driver.slash_command("maintenance", user=workspace.bob, channel=workspace.general)
    text = answer(slack, result)
    assert "You cannot schedule maintenance on the status page" in text
    assert "incident admin (INCIDENT_ADMINS)" in text
    statuses = {c.name: c.status for c in rows(page_bot, StatusComponent)}
    result = driver.slash_command(
        "component Card payments partial outage", user=workspace.bob, channel=workspace.general
    )
    assert "You cannot change a status page component" in answer(slack, result)
    assert len(slack.calls_to("views.open")) == opened  # no form was opened

    # The admin's maintenance form, submitted by Bob: refused, and nothing is scheduled.
    driver.slash_command("maintenance", user=workspace.alice, channel=workspace.general)
    form = slack.wait_for(
        lambda: (
            (v := slack.current_view(workspace.alice))
            and v["callback_id"] == "maintenance_modal"
            and v
        )
    )
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    values: dict[str, dict[str, Any]] = {
        "sp_title": {"sp_title": "DB upgrade"},
        "sp_message": {"sp_message": "Read-only"},
        "sp_start": {"sp_start": int(start.timestamp())},
        "sp_end": {"sp_end": int((start + timedelta(hours=1)).timestamp())},
    }
    assert driver.view_submission(form, values, user=workspace.bob).status == 200
    refusal = "You cannot schedule maintenance"
    slack.wait_for(lambda: any(refusal in m["text"] for m in slack.dms(workspace.bob)))
    assert rows(page_bot, StatusIncident) == []
    assert {c.name: c.status for c in rows(page_bot, StatusComponent)} == statuses
    # The admin may.
    ok = driver.view_submission(form, values, user=workspace.alice)
    assert ok.status == 200 and not ok.json, ok.body
    assert [(m.kind, m.name) for m in rows(page_bot, StatusIncident)] == [
        ("maintenance", "DB upgrade")
    ]


def test_publishing_from_the_forms_needs_the_status_page_permission(
    page_bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = page_bot.driver(slack)
    bob, carol = workspace.bob, workspace.carol
    # Bob declares naming Carol manager and writes a public message: he would not hold
    # status_page on the incident (manager, comms lead, admins), so the form stays open.
    view = open_declare_form(driver, slack, user=bob, channel=workspace.general, text="Slow")
    values = {
        **declare_values(title="Slow checkout", manager=carol),
        "sp_message": {"sp_message": "Checkout is slow"},
    }
    refused = driver.view_submission(view, values, user=bob)
    assert refused.json["response_action"] == "errors"
    assert "publish a new incident to the status page" in refused.json["errors"]["sp_message"]
    assert rows(page_bot, Incident) == [] and rows(page_bot, StatusIncident) == []
    # Without the public message, anyone declares.
    incident = declare(page_bot, driver, slack, user=bob, channel=workspace.general, manager=carol)
    channel = must(incident.channel_id)
    slack.add_members(channel, bob)

    def update_form(user: str) -> dict[str, Any]:
        driver.slash_command("update", user=user, channel=channel)
        return slack.wait_for(
            lambda: (v := slack.current_view(user)) and v["callback_id"] == "update_modal" and v
        )

    form = update_form(bob)
    public = {
        "message": {"message": "we know"},
        "sp_message": {"sp_message": "We are on it"},
    }
    assert driver.view_submission(form, public, user=bob).status == 200
    slack.wait_for(
        lambda: any("publish incident #1 to the status page" in m["text"] for m in slack.dms(bob))
    )
    assert rows(page_bot, IncidentUpdate) == [] and rows(page_bot, StatusIncident) == []
    # A responder's update without public fields is fine; the manager may publish.
    internal = driver.view_submission(form, {"message": {"message": "we know"}}, user=bob)
    assert internal.status == 200 and not internal.json
    slack.wait_for(lambda: len(rows(page_bot, IncidentUpdate)) == 1)
    assert rows(page_bot, StatusIncident) == []
    done = driver.view_submission(update_form(carol), public, user=carol)
    assert done.status == 200 and not done.json, done.body
    slack.wait_for(lambda: len(rows(page_bot, StatusIncident)) == 1)


# -- alert triage ---------------------------------------------------------------------------

TOKEN = "triage-test-token-0123456789"


def test_triage_is_for_the_triage_channels_members_and_admins(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(alert_webhook_token=TOKEN, alerts_channel="#general")
    driver = bot.driver(slack)
    response = send_alert(
        bot.base_url + "/hooks/alertmanager",
        raw("alertmanager_firing"),
        {"Authorization": f"Bearer {TOKEN}"},
    )
    assert response.status_code == 200
    message = slack.wait_for(
        lambda: next(
            (m for m in slack.messages(workspace.general) if render.group_of(m) is not None),
            None,
        ),
        timeout=20,
    )
    outsider = slack.add_user("dave")  # in the workspace, not in #general
    for action in (render.ACKNOWLEDGE, render.DISMISS, render.LINK):
        result = driver.block_actions(
            action, user=outsider, message=message, channel=workspace.general
        )
        text = answer(slack, result)
        assert f"only members of <#{workspace.general}>" in text, text
    [group] = rows(bot, AlertGroup)
    form = {
        "type": "modal",
        "callback_id": render.DISMISS_MODAL,
        "private_metadata": json.dumps({"group": group.id}),
        "blocks": [],
    }
    reason = {render.REASON: {render.REASON: "noise"}}
    assert driver.view_submission(form, reason, user=outsider).status == 200
    slack.wait_for(lambda: any("dismiss this alert" in m["text"] for m in slack.dms(outsider)))
    [after] = rows(bot, AlertGroup)
    assert (after.state, after.acknowledged_by) == (group.state, None)
    assert slack.calls_to("views.open") == []
    # Declaring stays open to anyone; a member acknowledges.
    driver.block_actions(render.DECLARE, user=outsider, message=message, channel=workspace.general)
    slack.wait_for("views.open")
    driver.block_actions(
        render.ACKNOWLEDGE, user=workspace.bob, message=message, channel=workspace.general
    )
    slack.wait_for(lambda: rows(bot, AlertGroup)[0].acknowledged_by == workspace.bob)
