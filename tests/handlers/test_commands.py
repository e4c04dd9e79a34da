"""`/incident` and `/incident help` through the real server, signed like Slack."""

from __future__ import annotations

import pytest

from blocks.text import escape
from bot.core import commands
from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import response_to


@pytest.mark.scenario
def test_help_lists_every_subcommand(
    driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    result = driver.slash_command("help", user=workspace.alice, channel=workspace.general)
    assert result.status == 200
    body = response_to(slack, result.response_url)
    assert body["response_type"] == "ephemeral"
    text = str(body["blocks"])
    for sub in commands.catalogue():
        assert escape(sub.usage) in text, sub.name  # `<…>` escaped, or Slack reads a link


@pytest.mark.scenario
def test_bare_command_is_help(
    driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    result = driver.slash_command("", user=workspace.bob, channel=workspace.general)
    body = response_to(slack, result.response_url)
    assert "/incident declare" in str(body["blocks"])


@pytest.mark.scenario
def test_unknown_subcommand_suggests(
    driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    result = driver.slash_command(
        "delcare db down", user=workspace.alice, channel=workspace.general
    )
    assert result.status == 200
    body = response_to(slack, result.response_url)
    first = body["blocks"][0]["text"]["text"]
    assert "`delcare` is not an `/incident` command" in first
    assert "Did you mean `/incident declare`?" in first
    assert "/incident help" in str(body["blocks"])


def test_every_catalogue_entry_has_a_handler() -> None:
    from handlers.commands import ROUTES

    assert {sub.name for sub in commands.catalogue()} == set(ROUTES)
