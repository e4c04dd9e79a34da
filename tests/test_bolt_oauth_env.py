"""SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (Sign in with Slack) leave Bolt on the bot token."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from playground.emulator import SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to

SECRET = "s" * 40


@pytest.mark.scenario
def test_commands_still_work_with_client_credentials_in_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    start_bot: Callable[..., RunningBot],
    slack: SlackEmulator,
    workspace: Workspace,
) -> None:
    monkeypatch.setenv("SLACK_CLIENT_ID", "1111.2222")
    monkeypatch.setenv("SLACK_CLIENT_SECRET", "client-secret-from-the-environment")
    monkeypatch.setenv("CONSOLE_SESSION_SECRET", SECRET)
    bot = start_bot()
    assert bot.settings.console_enabled  # the settings did read them
    assert bot.runtime.bolt_app.oauth_flow is None
    assert bot.runtime.bolt_app.installation_store is None
    driver = bot.driver(slack)
    result = driver.slash_command("list", user=workspace.alice, channel=workspace.general)
    assert result.status == 200
    answer = response_to(slack, result.response_url)
    assert "No open incidents" in str(answer["blocks"])
    assert "installation" not in str(answer).lower()
    import os

    assert os.environ["SLACK_CLIENT_ID"] == "1111.2222"  # put back after building the app
