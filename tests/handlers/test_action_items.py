"""Action items end to end: command, shortcut, reaction, lists, Mark done, owners' reminders."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from blocks.action_items import key_of
from bot import followups
from bot.followups.policy import FollowUpPolicy, Kind
from bot.slack.followup_sender import FollowUpTicker
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_postmortems import ActionItem
from storage.models_timeline import TimelineEntry
from storage.types import utcnow
from tests.conftest import Workspace
from tests.handlers.test_postmortems import documents, open_view, section
from tests.harness import RunningBot, response_to
from tests.scenarios import declare

pytestmark = pytest.mark.scenario


def items(bot: RunningBot) -> list[ActionItem]:
    with bot.runtime.services.db.session() as session:
        return list(session.exec(select(ActionItem).order_by(col(ActionItem.id))).all())


def today(bot: RunningBot) -> date:
    return FollowUpPolicy.from_settings(bot.runtime.services.settings).today(utcnow())


def reminders_to(slack: SlackEmulator, user: str) -> list[dict[str, Any]]:
    return [m for m in slack.dms(user) if key_of(m) is not None]


def answer(slack: SlackEmulator, driver: SlackDriver, text: str, *, user: str, channel: str) -> str:
    result = driver.slash_command(text, user=user, channel=channel)
    assert result.status == 200
    return str(response_to(slack, result.response_url)["text"])


def test_action_command_creates_an_item_and_tells_the_owner(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None
    due = (today(bot) + timedelta(days=3)).isoformat()
    text = answer(
        slack,
        driver,
        f"action Add a replica to the orders DB <@{workspace.carol}|carol> due {due}",
        user=workspace.bob,
        channel=channel,
    )
    [item] = items(bot)
    assert "Created action item *AI-1*" in text and f"<@{workspace.carol}>" in text
    assert (item.text, item.owner, item.due_on, item.state, item.via, item.created_by) == (
        "Add a replica to the orders DB",
        workspace.carol,
        date.fromisoformat(due),
        "open",
        "command",
        workspace.bob,
    )
    slack.wait_for(lambda: any("AI-1" in m["text"] for m in slack.dms(workspace.carol)))
    [dm] = [m for m in slack.dms(workspace.carol) if "AI-1" in m["text"]]
    assert "Add a replica to the orders DB" in str(dm["blocks"]) and "action_item_done" in str(dm)
    assert any("added action item *AI-1*" in m["text"] for m in slack.messages(channel))
    # Without an owner, whoever typed it owns it.
    answer(slack, driver, "action Write the runbook", user=workspace.alice, channel=channel)
    assert items(bot)[1].owner == workspace.alice and items(bot)[1].due_on is None


def test_bad_input_gives_a_specific_error_and_creates_nothing(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None
    bob = workspace.bob
    cases = {
        "action Fix it due 2025-13-45": "`2025-13-45` is not a date",
        "action Fix it due tomorrow": "`tomorrow` is not a date",
        "action Fix it due 2020-01-01": "has passed",
        "action Fix it <@U0NOBODY99|ghost>": "is not a user of this workspace",
        "action Fix it @bob": "is not a Slack user",
        "action": "Say what needs doing",
    }
    for command, expected in cases.items():
        assert expected in answer(slack, driver, command, user=bob, channel=channel), command
    outside = answer(slack, driver, "action Fix it", user=bob, channel=workspace.general)
    assert "works inside an incident's channel" in outside
    assert items(bot) == []


def test_shortcut_opens_a_prefilled_form_linked_to_the_message(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None
    ts = driver.user_posts(
        workspace.carol, channel, f"We need an alert on disk usage <@{workspace.bob}>"
    )
    message = slack.message(channel, ts)
    assert message is not None
    before = len(slack.calls_to("views.open"))
    driver.message_shortcut(
        "create_action_item", user=workspace.alice, channel=channel, message=message
    )
    form = open_view(slack, workspace.alice, before, "action_item_modal")
    blocks = {b.get("block_id"): b for b in form["blocks"]}
    assert blocks["text"]["element"]["initial_value"] == "We need an alert on disk usage @Bob Baker"
    assert blocks["owner"]["element"]["initial_user"] == workspace.alice
    assert "incident" not in blocks  # the message is in the incident's channel
    assert "this message" in str(form["blocks"])
    due = (today(bot) + timedelta(days=1)).isoformat()
    values = {
        "text": {"text": "Alert on disk usage"},
        "owner": {"owner": workspace.carol},
        "due": {"due": due},
    }
    result = driver.view_submission(form, values, user=workspace.alice)
    assert result.status == 200 and not (result.json or {}).get("errors")
    again = driver.view_submission(form, values, user=workspace.alice)  # a double submission
    assert again.status == 200
    [item] = items(bot)
    assert (item.text, item.owner, item.via, item.message_ts) == (
        "Alert on disk usage",
        workspace.carol,
        "shortcut",
        ts,
    )
    assert item.due_on == date.fromisoformat(due) and item.permalink
    slack.wait_for(lambda: any("AI-1" in m["text"] for m in slack.replies(channel, ts)))


def test_shortcut_outside_an_incident_asks_which_one(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    ts = driver.user_posts(workspace.alice, workspace.random, "The backup job failed again")
    message = slack.message(workspace.random, ts)
    assert message is not None
    before = len(slack.calls_to("views.open"))
    driver.message_shortcut(
        "create_action_item", user=workspace.alice, channel=workspace.random, message=message
    )
    form = open_view(slack, workspace.alice, before, "action_item_modal")
    assert any(b.get("block_id") == "incident" for b in form["blocks"])
    missing = driver.view_submission(
        form, {"text": {"text": "Fix the backup job"}}, user=workspace.alice
    )
    assert "incident" in missing.json["errors"] and items(bot) == []
    values = {"text": {"text": "Fix the backup job"}, "incident": {"incident": str(incident.id)}}
    assert driver.view_submission(form, values, user=workspace.alice).status == 200
    [item] = items(bot)
    assert item.incident_id == incident.id and item.channel_id == workspace.random


def test_reactions_make_action_items_and_still_pin_to_the_timeline(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None
    ts = driver.user_posts(workspace.carol, channel, "Rotate the leaked API key")
    driver.user_reacts(workspace.bob, channel, ts, "ballot_box_with_check")
    slack.wait_for(lambda: len(items(bot)) == 1)
    driver.user_reacts(workspace.alice, channel, ts, "ballot_box_with_check")  # a second reactor
    [item] = items(bot)
    assert (item.text, item.owner, item.via) == (
        "Rotate the leaked API key",
        workspace.bob,
        "reaction",
    )
    slack.wait_for(lambda: any("AI-1" in m["text"] for m in slack.replies(channel, ts)))
    slack.wait_for(lambda: any("AI-1" in m["text"] for m in slack.dms(workspace.bob)))
    # The timeline's emoji still works through the same listener, and makes no action item.
    other = driver.user_posts(workspace.carol, channel, "Error rate back to normal")
    driver.user_reacts(workspace.bob, channel, other, "pushpin")

    def pinned() -> bool:
        with bot.runtime.services.db.session() as session:
            rows = session.exec(select(TimelineEntry).where(TimelineEntry.message_ts == other))
            return bool(rows.all())

    slack.wait_for(pinned)
    assert len(items(bot)) == 1
    # Outside an incident channel the emoji does nothing.
    elsewhere = driver.user_posts(workspace.carol, workspace.random, "Unrelated")
    driver.user_reacts(workspace.bob, workspace.random, elsewhere, "ballot_box_with_check")
    time.sleep(0.3)
    assert len(items(bot)) == 1


def test_lists_mark_done_and_the_postmortem_shows_the_state(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = incident.channel_id
    assert channel is not None
    other = declare(
        bot, driver, slack, user=workspace.carol, channel=workspace.general, title="Cache down"
    )
    assert other.channel_id is not None
    bob = workspace.bob
    slack.add_members(other.channel_id, bob)  # a responder in both
    answer(slack, driver, f"action First fix <@{bob}|bob>", user=bob, channel=channel)
    answer(
        slack, driver, f"action Second fix <@{workspace.carol}|carol>", user=bob, channel=channel
    )
    answer(slack, driver, f"action Cache fix <@{bob}|bob>", user=bob, channel=other.channel_id)
    listed = driver.slash_command("actions", user=bob, channel=channel)
    body = response_to(slack, listed.response_url)
    assert "First fix" in str(body["blocks"]) and "Second fix" in str(body["blocks"])
    assert "Cache fix" not in str(body["blocks"])
    mine = driver.slash_command("actions mine", user=bob, channel=workspace.general)
    mine_body = response_to(slack, mine.response_url)
    assert "First fix" in str(mine_body["blocks"]) and "Cache fix" in str(mine_body["blocks"])
    assert "Second fix" not in str(mine_body["blocks"]) and "#2 Cache down" in str(
        mine_body["blocks"]
    )
    # Mark done from the incident's list: the list comes back with it done.
    driver.block_actions(
        "action_item_done",
        user=bob,
        message=body,
        channel=channel,
        value="1",
        ephemeral=True,
        block_id="ai_inc1_1",
    )
    slack.wait_for(lambda: items(bot)[0].state == "done")
    relisted = slack.wait_for(
        lambda: [r for r in slack.responses if r["body"].get("replace_original")]
    )[-1]["body"]
    assert "~First fix~" in str(relisted["blocks"]) and "done" in str(relisted["blocks"])
    assert items(bot)[0].completed_by == bob
    mine_now = response_to(
        slack, driver.slash_command("actions mine", user=bob, channel=channel).response_url
    )
    assert "First fix" not in str(mine_now["blocks"])
    answer(slack, driver, "postmortem", user=bob, channel=channel)
    internal, _ = documents(slack, channel)
    listed_items = section(internal, "Action Items")
    assert "- [x] **AI-1** First fix" in listed_items and "; done)" in listed_items
    assert "- [ ] **AI-2** Second fix" in listed_items and "; open)" in listed_items


def test_due_items_remind_their_owner_once_a_day(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    # Reminders at 00:00: an item due today is due at once (the running scheduler sends it).
    bot = start_bot(followup_reminder_time="00:00", scheduler_tick_seconds=0.5)
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = incident.channel_id
    assert channel is not None
    due = today(bot).isoformat()
    command = f"action Patch the kernel <@{workspace.carol}|carol> due {due}"
    answer(slack, driver, command, user=workspace.alice, channel=channel)
    answer(slack, driver, "action Someday maybe", user=workspace.alice, channel=channel)
    [first] = slack.wait_for(lambda: reminders_to(slack, workspace.carol), timeout=5)
    assert "AI-1" in first["text"] and "is due today" in first["text"]
    time.sleep(1.5)  # several ticks later: still one reminder today
    assert len(reminders_to(slack, workspace.carol)) == 1
    assert reminders_to(slack, workspace.alice) == []  # no due date, no reminder
    # Two days later (a controllable clock on the same durable schedule): overdue, once.
    services = bot.runtime.services
    policy = FollowUpPolicy.from_settings(services.settings)
    later = policy.slot(today(bot) + timedelta(days=2)) + timedelta(minutes=1)
    ticker = FollowUpTicker(services, owner="other-replica", clock=lambda: later)
    assert ticker.tick()["sent"] == 1 and ticker.tick()["sent"] == 0
    overdue = reminders_to(slack, workspace.carol)[-1]
    assert "overdue by 2 days" in overdue["text"]
    # Mark done from the reminder: the reminder says so, and no more come.
    driver.block_actions(
        "action_item_done",
        user=workspace.carol,
        message=overdue,
        channel=slack.dm_channel_id(workspace.carol),
    )
    slack.wait_for(lambda: items(bot)[0].state == "done")
    slack.wait_for(
        lambda: "is done" in str(slack.message(slack.dm_channel_id(workspace.carol), overdue["ts"]))
    )
    after = FollowUpTicker(services, owner="other-replica", clock=lambda: later + timedelta(days=1))
    assert after.tick()["sent"] == 0
    with services.db.session() as session:
        sent = followups.deliveries(session, kind=Kind.ACTION_ITEM)
    assert [d.recipient for d in sent] == [workspace.carol, workspace.carol]
    assert len({d.key for d in sent}) == 2
