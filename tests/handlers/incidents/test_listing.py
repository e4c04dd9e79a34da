"""`/incident list` and the App Home."""

from __future__ import annotations

import pytest

from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, must

pytestmark = pytest.mark.scenario


def test_list_open_and_all(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    empty = driver.slash_command("list", user=workspace.carol, channel=workspace.general)
    assert "No open incidents" in str(response_to(slack, empty.response_url)["blocks"])
    first = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Search is slow",
        severity="sev3",
    )
    second = declare(
        bot,
        driver,
        slack,
        user=workspace.bob,
        channel=workspace.general,
        title="Payments down",
        severity="sev1",
    )
    driver.slash_command("status resolved", user=workspace.alice, channel=must(first.channel_id))
    slack.wait_for(lambda: "Resolved" in slack.channel(must(first.channel_id))["topic"]["value"])

    open_list = driver.slash_command("list", user=workspace.carol, channel=workspace.general)
    blocks = str(response_to(slack, open_list.response_url)["blocks"])
    assert "#2 Payments down" in blocks and "SEV1" in blocks and "Investigating" in blocks
    assert f"<#{second.channel_id}>" in blocks and f"<@{workspace.bob}>" in blocks
    assert "Search is slow" not in blocks

    all_list = driver.slash_command("list all", user=workspace.carol, channel=workspace.general)
    blocks = str(response_to(slack, all_list.response_url)["blocks"])
    assert "#1 Search is slow" in blocks and "Resolved" in blocks and "#2 Payments down" in blocks
    assert blocks.index("#2 Payments down") < blocks.index("#1 Search is slow")

    bad = driver.slash_command("list closed", user=workspace.carol, channel=workspace.general)
    assert "Unknown list `closed`" in response_to(slack, bad.response_url)["text"]


def test_app_home_shows_open_incidents_and_declare_button(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    declare(
        bot, driver, slack, user=workspace.alice, channel=workspace.general, title="Queue backlog"
    )
    driver.app_home_opened(workspace.carol)
    slack.wait_for("views.publish")
    home = slack.home(workspace.carol)
    assert home is not None
    text = str(home["blocks"])
    assert "Queue backlog" in text and "home_declare" in text
