"""Each Slack surface of an incident is updated on its own, and the person is told what failed.

A refused topic must not leave the card and the broadcast line stale (and the other way
round); whoever made the change gets a private note naming what Slack refused.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from playground.emulator import SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare, must

pytestmark = pytest.mark.scenario


def test_a_refused_topic_leaves_card_and_broadcast_current(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    bot = start_bot(incident_broadcast_channel="#incidents")
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel, card_ts = must(incident.channel_id), must(incident.card_ts)

    slack.fail("conversations.setTopic", error="restricted_action")
    driver.slash_command("severity sev1", user=workspace.alice, channel=channel)

    slack.wait_for(lambda: slack.ephemerals(channel, workspace.alice))
    note = slack.ephemerals(channel, workspace.alice)[-1]["text"]
    assert "the channel topic (Slack answered `restricted_action`)" in note
    assert "card" not in note and "broadcast" not in note
    # Each surface is a delivery of its own: the card and the line are current (soon).
    slack.wait_for(lambda: "SEV1" in str(slack.message(channel, card_ts)))
    slack.wait_for(lambda: "SEV1" in str(slack.message(announce, must(incident.broadcast_ts))))
    assert slack.channel(channel)["topic"]["value"].startswith("SEV2")  # only the topic is stale
    slack.wait_for(
        lambda: any("changed the severity" in m.get("text", "") for m in slack.messages(channel))
    )

    # The next change brings the topic back up to date.
    driver.slash_command("status identified", user=workspace.alice, channel=channel)
    slack.wait_for(lambda: slack.channel(channel)["topic"]["value"].startswith("SEV1 | Identified"))
    assert len(slack.ephemerals(channel, workspace.alice)) == 1


def test_a_refused_card_update_still_updates_topic_and_broadcast(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    # Bob is an incident admin: he may change an incident whose channel he is not in.
    bot = start_bot(incident_broadcast_channel="#incidents", incident_admins=workspace.bob)
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = must(incident.channel_id)

    slack.fail("chat.update", error="msg_too_long")  # the card is updated first
    driver.slash_command("status monitoring", user=workspace.bob, channel=channel)

    # Bob is not in the incident's channel: he is told in a direct message instead.
    # The card and the broadcast line both fail (chat.update): one note each, or one for both.
    card_note = "the pinned incident card (Slack answered `msg_too_long`)"
    slack.wait_for(lambda: any(card_note in m["text"] for m in slack.dms(workspace.bob)))
    slack.wait_for(lambda: "Monitoring" in slack.channel(channel)["topic"]["value"])
    slack.wait_for(
        lambda: "Monitoring" in str(slack.message(announce, must(incident.broadcast_ts)))
    )
    card = must(slack.message(channel, must(incident.card_ts)))
    fields = [
        f["text"] for b in card["blocks"] if b["type"] == "section" for f in b.get("fields", [])
    ]
    assert "*Status*\nInvestigating" in fields  # only the card is stale


def test_an_update_reaches_the_broadcast_thread_when_the_channel_post_fails(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    bot = start_bot(incident_broadcast_channel="#incidents")
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = must(incident.channel_id)
    driver.slash_command("update", user=workspace.alice, channel=channel)
    slack.wait_for(lambda: slack.current_view(workspace.alice) is not None)
    form = must(slack.current_view(workspace.alice))

    slack.fail("chat.postMessage", error="channel_not_found")  # the channel's post comes first
    driver.view_submission(form, {"message": {"message": "Failover done"}}, user=workspace.alice)

    slack.wait_for(lambda: slack.ephemerals(channel, workspace.alice))
    note = slack.ephemerals(channel, workspace.alice)[-1]["text"]
    assert "the update in the incident channel (Slack answered `channel_not_found`)" in note
    slack.wait_for(lambda: slack.replies(announce, must(incident.broadcast_ts)))
    replies = slack.replies(announce, must(incident.broadcast_ts))
    assert len(replies) == 1 and "Failover done" in replies[0]["text"]
