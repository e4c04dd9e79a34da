"""Stakeholder DMs, channel invitations and user groups against the Slack emulator."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk import WebClient

from blocks.stakeholders import key_of
from bot.core.sending import Permanent, Retryable
from bot.slack.notices import SlackNoticeSender
from bot.stakeholders.notice import Notice
from bot.stakeholders.planning import notice_key
from playground.emulator import SlackEmulator
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN

PAYLOAD: dict[str, Any] = {
    "number": 4,
    "title": "Login <@U0ALL> *broken* <!channel>",
    "severity": "sev2",
    "status": "identified",
    "impact": "Users <b>cannot</b> sign in",
    "manager": None,
    "manager_name": "Alice Archer",
    "trigger": "update",
    "message": "Fix is <https://evil.example|rolling out> & _soon_",
    "next_update_at": "2026-03-02T12:30:00+00:00",
    "status_page_url": "https://status.acme.example",
}


def notice(
    channel: str, recipient: str, *, attempts: int = 0, channel_id: str | None = None
) -> Notice:
    return Notice(
        id=1,
        key=notice_key(4, "update:9", channel, recipient),
        incident_id=4,
        channel=channel,
        recipient=recipient,
        trigger="update",
        event="update:9",
        group="Product team",
        quadrant="manage_closely",
        payload=dict(PAYLOAD),
        attempts=attempts,
        incident_channel_id=channel_id,
    )


@pytest.fixture
def sender(slack: SlackEmulator) -> SlackNoticeSender:
    return SlackNoticeSender(WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[]))


def test_a_dm_shows_typed_text_as_typed(
    slack: SlackEmulator, workspace: Workspace, sender: SlackNoticeSender
) -> None:
    item = notice("slack", workspace.bob, channel_id=workspace.general)
    sender.send(item)
    [message] = slack.dms(workspace.bob)
    assert key_of(message) == item.key
    assert "&lt;@U0ALL&gt;" in message["text"] and "<!channel>" not in message["text"]
    header, body, facts, impact, actions, context = message["blocks"]
    assert header["text"] == {
        "type": "plain_text",
        "text": "SEV2 incident #4 update: Login <@U0ALL> *broken* <!channel>",
        "emoji": False,
    }
    assert body["text"]["type"] == "plain_text"
    assert body["text"]["text"] == PAYLOAD["message"]
    assert impact["fields"][1] == {
        "type": "plain_text",
        "text": "Users <b>cannot</b> sign in",
        "emoji": False,
    }
    assert "Alice Archer" in facts["fields"][2]["text"]
    assert actions["elements"][0]["url"] == "https://status.acme.example"
    assert f"<#{workspace.general}>" in context["elements"][0]["text"]


def test_a_retried_dm_that_got_through_is_not_posted_again(
    slack: SlackEmulator, workspace: Workspace, sender: SlackNoticeSender
) -> None:
    sender.send(notice("slack", workspace.bob))
    sender.send(notice("slack", workspace.bob, attempts=1))  # the answer was lost: look first
    assert len(slack.dms(workspace.bob)) == 1
    sender.send(notice("slack", workspace.carol, attempts=1))  # not there: post it
    assert len(slack.dms(workspace.carol)) == 1


def test_invites_to_the_incident_channel(
    slack: SlackEmulator, workspace: Workspace, sender: SlackNoticeSender
) -> None:
    channel = slack.add_channel("inc-4-login", private=True)
    with pytest.raises(Retryable, match="not set up yet"):
        sender.send(notice("invite", workspace.bob))
    sender.send(notice("invite", workspace.bob, channel_id=channel))
    sender.send(notice("invite", workspace.bob, channel_id=channel))  # already in: fine
    assert workspace.bob in slack.members(channel)


def test_user_groups_are_expanded(
    slack: SlackEmulator, workspace: Workspace, sender: SlackNoticeSender
) -> None:
    group = slack.add_usergroup("product", [workspace.alice, workspace.carol])
    assert sender.members(group) == [workspace.alice, workspace.carol]
    with pytest.raises(Permanent, match="no_such_subteam"):
        sender.members("S0GONE0001")
    slack.fail("usergroups.users.list", status=429, retry_after=3)
    with pytest.raises(Retryable) as limited:
        sender.members(group)
    assert limited.value.retry_after == 3


def test_slack_failures_are_classified(
    slack: SlackEmulator, workspace: Workspace, sender: SlackNoticeSender
) -> None:
    slack.fail("chat.postMessage", status=500)
    with pytest.raises(Retryable, match="fatal_error"):
        sender.send(notice("slack", workspace.bob))
    slack.fail("chat.postMessage", status=429, retry_after=2)
    with pytest.raises(Retryable):
        sender.send(notice("slack", workspace.bob))
    with pytest.raises(Permanent, match="channel_not_found"):
        sender.send(notice("slack", "U0NOBODY1"))
    assert slack.dms(workspace.bob) == []
