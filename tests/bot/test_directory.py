"""The Slack directory against the emulator: asked once, gone messages, refused links."""

from __future__ import annotations

import pathlib
import re

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.directory import MessageRef, SlackDirectory
from playground.emulator import SlackEmulator
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.scenario
def test_the_directory_asks_slack_once_and_says_none_for_what_is_gone(
    slack: SlackEmulator, workspace: Workspace
) -> None:
    directory = SlackDirectory(WebClient(BOT_TOKEN, base_url=slack.api_url))
    assert directory.bot_user_id() == directory.bot_user_id() == slack.bot_user_id
    assert directory.user_name(workspace.alice) == directory.user_name(workspace.alice)
    assert directory.user_name(workspace.alice) not in (None, workspace.alice)
    assert directory.user_name("U0NOBODY01") is None
    assert len(slack.calls_to("auth.test")) == 1
    assert len(slack.calls_to("users.info")) == 2  # Alice once, the unknown id once

    posted = slack.post_as_user(workspace.bob, workspace.general, f"ask <@{workspace.alice}>")
    ref = MessageRef(workspace.general, posted["ts"])
    message = directory.message(ref)
    assert message is not None and message["ts"] == posted["ts"]
    assert directory.readable(message["text"]).startswith("ask @")
    link = directory.permalink(ref)
    assert link is not None and posted["ts"].replace(".", "") in link

    gone = MessageRef(workspace.general, "1700000000.000100")
    assert directory.message(gone) is None
    slack.fail("chat.getPermalink", error="message_not_found")
    assert directory.permalink(ref) is None
    slack.fail("reactions.get", error="channel_not_found")
    with pytest.raises(SlackApiError):
        directory.message(ref)


def test_only_the_directory_calls_auth_test_and_chat_get_permalink() -> None:
    callers = sorted(
        str(path.relative_to(ROOT))
        for top in ("app.py", "bot", "handlers", "web", "blocks")
        for path in ([ROOT / top] if top.endswith(".py") else (ROOT / top).rglob("*.py"))
        if re.search(r"\.(auth_test|chat_getPermalink)\(", path.read_text())
    )
    assert callers == ["bot/slack/directory.py"]
