"""Timeline capture through the emulator: reactions, threads, edits, retries, shortcut, reading."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import col, select

from bot import timeline as tl
from storage.models import EventReceipt, Incident
from storage.models_timeline import TimelineEntry
from tests.conftest import Workspace
from tests.emulator import SlackDriver, SlackEmulator
from tests.harness import RunningBot, response_to
from tests.scenarios import declare

pytestmark = pytest.mark.scenario


@pytest.fixture
def incident(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> Incident:
    found = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    assert found.setup_state == "complete"
    slack.add_members(str(found.channel_id), workspace.bob, workspace.carol)
    # The timeline records the declaration right after the setup: wait for it too.
    slack.wait_for(lambda: len(_entries(bot, "event")) == 1)
    return found


def _entries(bot: RunningBot, kind: str | None = "message") -> list[TimelineEntry]:
    with bot.runtime.services.db.session() as session:
        query = select(TimelineEntry).order_by(
            col(TimelineEntry.occurred_at), col(TimelineEntry.id)
        )
        rows = list(session.exec(query).all())
    return [r for r in rows if kind is None or r.kind == kind]


def _receipts(bot: RunningBot) -> int:
    with bot.runtime.services.db.session() as session:
        return len(session.exec(select(EventReceipt)).all())


def _wait_entries(slack: SlackEmulator, bot: RunningBot, n: int) -> list[TimelineEntry]:
    slack.wait_for(lambda: len(_entries(bot)) == n)
    return _entries(bot)


def _idle(bot: RunningBot, timeout: float = 10) -> None:
    """Wait until every listener thread of the bot is back waiting for work.

    An idle pool thread sits in `concurrent.futures.thread._worker`, blocked on its queue;
    a busy one runs deeper frames. Idle twice in a row, 50 ms apart, means nothing is left.
    """
    del bot  # every bot of this process: their listener threads share the name prefix
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2:
        frames = sys._current_frames()
        busy = [
            t.name
            for t in threading.enumerate()
            if t.name.startswith("listener")
            and (frame := frames.get(t.ident or 0)) is not None
            and frame.f_code.co_name != "_worker"
        ]
        quiet = 0 if busy else quiet + 1
        if time.monotonic() > deadline:
            raise AssertionError(f"listeners still busy: {busy}")
        time.sleep(0.05)


def _answer(slack: SlackEmulator, response_url: str | None) -> dict[str, Any]:
    """What the bot posted to `response_url`, with the emulator's verdict (`outcome`)."""
    response_to(slack, response_url)
    return [r for r in slack.responses if r["url"] == response_url][-1]


def _reactions(slack: SlackEmulator, channel: str, ts: str) -> dict[str, list[str]]:
    return {r["name"]: r["users"] for r in slack.reactions(channel, ts)}


def test_pinned_message_lands_on_the_timeline_quietly(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    ts = driver.user_posts(
        workspace.bob,
        channel,
        f"<@{workspace.carol}> look at <https://grafana.example.com/d/1|the DB dashboard> "
        "&amp; <#C0FAKE1|ops>",
        files=[{"name": "cpu.png", "content": b"png"}],
    )
    before = len(slack.messages(channel, include_replies=True))
    result = driver.user_reacts(workspace.carol, channel, ts, "pushpin")
    assert result.status == 200
    [entry] = _wait_entries(slack, bot, 1)
    assert entry.incident_id == incident.id
    assert (
        entry.text
        == "@Carol Chen look at the DB dashboard (https://grafana.example.com/d/1) & #ops"
    )
    assert (entry.author, entry.author_name) == (workspace.bob, "Bob Baker")
    assert entry.occurred_at == tl.ts_to_datetime(ts)  # the message's time, not the reaction's
    assert entry.files == "cpu.png"
    assert entry.permalink and entry.permalink.endswith("p" + ts.replace(".", ""))
    assert (entry.added_via, entry.added_by) == ("reaction", workspace.carol)
    slack.wait_for(lambda: "memo" in _reactions(slack, channel, ts))
    assert _reactions(slack, channel, ts)["memo"] == [slack.bot_user_id]
    assert len(slack.messages(channel, include_replies=True)) == before  # no chatter


@pytest.mark.parametrize("fault", ["bad_signature", "stale_timestamp"])
def test_a_forged_or_replayed_event_is_refused_and_ignored(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
    fault: str,
) -> None:
    """Events are answered before Bolt sees them, but only once their signature is checked."""
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "the queue is backing up")
    slack.clear_calls()
    result = driver.with_options(**{fault: True}).user_reacts(
        workspace.carol, channel, ts, "pushpin"
    )
    assert result.status == 401
    _idle(bot)
    assert _entries(bot) == []
    assert slack.calls == []


def test_threaded_message_counts_too(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    parent = driver.user_posts(workspace.bob, channel, "Investigating the DB")
    reply = driver.user_posts(workspace.carol, channel, "Replica lag is 40s", thread_ts=parent)
    driver.user_reacts(workspace.alice, channel, reply, "pushpin")
    [entry] = _wait_entries(slack, bot, 1)
    assert (entry.message_ts, entry.thread_ts) == (reply, parent)
    assert entry.text == "Replica lag is 40s" and entry.author == workspace.carol


def test_edited_then_deleted_after_pinning(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "Root cause: disk ful")
    driver.user_reacts(workspace.bob, channel, ts, "pushpin")
    _wait_entries(slack, bot, 1)
    driver.user_edits(
        workspace.bob, channel, ts, "Root cause: disk full on <@" + workspace.alice + ">'s host"
    )
    slack.wait_for(lambda: _entries(bot)[0].text == "Root cause: disk full on @Alice Archer's host")
    assert _entries(bot)[0].edited_ts is not None
    driver.user_deletes(channel, ts)
    slack.wait_for(lambda: _entries(bot)[0].deleted_at is not None)
    [entry] = _entries(bot)
    assert entry.text == "Root cause: disk full on @Alice Archer's host"  # kept, marked deleted


def test_reaction_removed_by_one_of_two_reactors(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "Failover started")
    driver.user_reacts(workspace.alice, channel, ts, "pushpin")
    driver.user_reacts(workspace.carol, channel, ts, "pushpin")
    _wait_entries(slack, bot, 1)
    _idle(bot)
    driver.user_unreacts(workspace.alice, channel, ts, "pushpin")
    _idle(bot)
    assert len(_entries(bot)) == 1  # Carol still has it on
    assert "memo" in _reactions(slack, channel, ts)
    driver.user_unreacts(workspace.carol, channel, ts, "pushpin")
    _wait_entries(slack, bot, 0)
    slack.wait_for(lambda: "memo" not in _reactions(slack, channel, ts))


def test_the_same_event_delivered_three_times(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "Error rate back to normal")
    slack.react_as_user(workspace.alice, channel, ts, "pushpin")
    event = {
        "type": "reaction_added",
        "user": workspace.alice,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": "pushpin",
        "item_user": workspace.bob,
        "event_ts": slack.next_ts(),
    }
    receipts = _receipts(bot)
    results = [
        driver.event(event, event_id="EvTHRICE01"),
        driver.event(event, event_id="EvTHRICE01", retry_num=1),
        driver.event(event, event_id="EvTHRICE01", retry_num=2, retry_reason="http_error"),
    ]
    assert [r.status for r in results] == [200, 200, 200]
    _wait_entries(slack, bot, 1)
    _idle(bot)
    assert len(_entries(bot)) == 1
    assert _receipts(bot) == receipts + 1
    assert len([c for c in slack.calls_to("reactions.add") if c.params.get("timestamp") == ts]) == 1


def test_reaction_outside_incident_channels_costs_nothing(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    ts = driver.user_posts(workspace.bob, workspace.general, "lunch?")
    _idle(bot)
    slack.clear_calls()
    receipts = _receipts(bot)
    assert driver.user_reacts(workspace.alice, workspace.general, ts, "pushpin").status == 200
    driver.user_edits(workspace.bob, workspace.general, ts, "lunch at 12?")
    driver.user_deletes(workspace.general, ts)
    _idle(bot)
    assert slack.calls == []
    assert _entries(bot) == [] and _receipts(bot) == receipts


def test_other_emoji_and_the_bots_own_reaction_are_ignored(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "Is it DNS?")
    driver.user_reacts(workspace.alice, channel, ts, "eyes")
    slack.react_as_user(slack.bot_user_id, channel, ts, "pushpin")
    driver.event(
        {
            "type": "reaction_added",
            "user": slack.bot_user_id,
            "item": {"type": "message", "channel": channel, "ts": ts},
            "reaction": "pushpin",
            "event_ts": slack.next_ts(),
        }
    )
    _idle(bot)
    assert _entries(bot) == []


def test_configured_emoji_list(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(timeline_emoji="round_pushpin, star")
    driver = bot.driver(slack)
    found = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = str(found.channel_id)
    one = driver.user_posts(workspace.alice, channel, "one")
    two = driver.user_posts(workspace.alice, channel, "two")
    three = driver.user_posts(workspace.alice, channel, "three")
    driver.user_reacts(workspace.alice, channel, one, "pushpin")
    driver.user_reacts(workspace.alice, channel, two, "star")
    driver.user_reacts(workspace.alice, channel, three, "round_pushpin")
    _wait_entries(slack, bot, 2)
    _idle(bot)
    assert [e.text for e in _entries(bot)] == ["two", "three"]


def test_note_and_the_bots_own_entries(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    channel = str(incident.channel_id)
    result = driver.slash_command(
        f"note Paged the DBA <@{workspace.carol}|carol>", user=workspace.bob, channel=channel
    )
    assert "Noted on the timeline of incident #1" in response_to(slack, result.response_url)["text"]
    empty = driver.slash_command("note", user=workspace.bob, channel=channel)
    assert "/incident note <text>" in response_to(slack, empty.response_url)["text"]
    elsewhere = driver.slash_command("note hi", user=workspace.bob, channel=workspace.general)
    assert "incident's channel" in response_to(slack, elsewhere.response_url)["text"]
    driver.slash_command("status identified", user=workspace.alice, channel=channel)
    slack.wait_for(lambda: len(_entries(bot, "event")) == 2)
    [note] = _entries(bot, "note")
    assert (note.text, note.author, note.author_name) == (
        "Paged the DBA @Carol Chen",
        workspace.bob,
        "Bob Baker",
    )
    events = _entries(bot, "event")
    assert [e.text for e in events] == [
        "declared incident #1 Database is down (SEV2)",
        "changed the status from Investigating to Identified",
    ]
    assert all(e.author == workspace.alice and e.author_name == "Alice Archer" for e in events)


def test_shortcut_from_another_channel_asks_which_incident(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    ts = driver.user_posts(workspace.carol, workspace.random, "Customers report timeouts")
    message = slack.message(workspace.random, ts)
    assert message is not None
    result = driver.message_shortcut(
        "add_to_timeline", user=workspace.bob, channel=workspace.random, message=message
    )
    assert result.status == 200
    slack.wait_for(lambda: slack.current_view(workspace.bob) is not None)
    form = slack.current_view(workspace.bob)
    assert form is not None and form["callback_id"] == "timeline_pick_incident"
    select_ = form["blocks"][1]["element"]
    assert select_["initial_option"]["value"] == str(incident.id)  # the only incident
    none = driver.view_submission(form, {"incident": {"incident": None}}, user=workspace.bob)
    assert none.json["response_action"] == "errors"
    done = driver.view_submission(
        form, {"incident": {"incident": str(incident.id)}}, user=workspace.bob
    )
    assert done.status == 200 and done.view_errors == []
    [entry] = _wait_entries(slack, bot, 1)
    assert (entry.channel_id, entry.message_ts, entry.text) == (
        workspace.random,
        ts,
        "Customers report timeouts",
    )
    assert (entry.added_via, entry.added_by, entry.author) == (
        "shortcut",
        workspace.bob,
        workspace.carol,
    )
    assert entry.permalink and entry.permalink.endswith("p" + ts.replace(".", ""))
    body = response_to(slack, result.response_url)
    assert "Added to the timeline of incident #1" in body["text"]
    # Again from inside the incident channel: no question, and no second copy.
    inside = driver.user_posts(workspace.bob, str(incident.channel_id), "Scaling up")
    inside_msg = slack.message(str(incident.channel_id), inside)
    assert inside_msg is not None
    direct = driver.message_shortcut(
        "add_to_timeline", user=workspace.bob, channel=str(incident.channel_id), message=inside_msg
    )
    assert "Added to the timeline" in response_to(slack, direct.response_url)["text"]
    again = driver.message_shortcut(
        "add_to_timeline", user=workspace.bob, channel=str(incident.channel_id), message=inside_msg
    )
    assert "already on the timeline" in response_to(slack, again.response_url)["text"]
    assert len(_entries(bot)) == 2


def test_500_entry_timeline_renders_in_pages_and_downloads(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    assert incident.id is not None
    channel = str(incident.channel_id)
    with bot.runtime.services.db.session() as session:
        for n in range(500):
            message = tl.CapturedMessage(
                channel_id=channel,
                ts=f"{1772373600 + n}.000100",
                author=workspace.bob,
                author_name="Bob Baker",
                text=f"step {n} " + "details " * 500,
                files=[f"log-{n}.txt"],
            )
            tl.add_message(
                session,
                incident_id=incident.id,
                message=message,
                added_via=tl.Via.REACTION,
                added_by=workspace.bob,
            )
    total = 500 + len(_entries(bot, "event"))
    result = driver.slash_command("timeline", user=workspace.alice, channel=channel)
    answer = _answer(slack, result.response_url)
    pages = 0
    seen: list[str] = []
    while True:
        pages += 1
        assert answer["outcome"] == "ephemeral"  # the emulator accepted the blocks
        page = answer["body"]
        assert len(page["blocks"]) <= 50
        seen += [b["text"]["text"] for b in page["blocks"] if b["type"] == "section"]
        later = [e for e in page["blocks"][-1]["elements"] if e["action_id"] == "timeline_later"]
        if not later:
            break
        click = driver.block_actions(
            "timeline_later", user=workspace.alice, message=page, channel=channel, ephemeral=True
        )
        answer = _answer(slack, click.response_url)
    assert pages == -(-total // 30) and len(seen) == total
    assert "step 0 " in seen[0] and "step 499 " in seen[499]
    download = driver.block_actions(
        "timeline_download", user=workspace.alice, message=page, channel=channel, ephemeral=True
    )
    assert "as a file" in response_to(slack, download.response_url)["text"]
    [shared] = [m for m in slack.dms(workspace.alice) if m.get("files")]
    content = slack.file_content(shared["files"][0]["id"]).decode()
    assert content.startswith("## Timeline of incident #1: Database is down")
    assert content.count("\n- **") == 500 + len(_entries(bot, "event"))


def test_two_replicas_given_the_same_event_make_one_entry(
    bot: RunningBot,
    start_bot: Callable[..., RunningBot],
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> None:
    other = start_bot()  # a second replica on the same database
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "Both replicas see this")
    slack.react_as_user(workspace.carol, channel, ts, "pushpin")
    event = {
        "type": "reaction_added",
        "user": workspace.carol,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": "pushpin",
        "event_ts": slack.next_ts(),
    }
    replicas = [driver, other.driver(slack)]
    for n in range(4):
        assert replicas[n % 2].event(event, event_id="EvREPLICA1", retry_num=n or None).ok
    _wait_entries(slack, bot, 1)
    _idle(bot)
    _idle(other)
    assert len(_entries(bot)) == 1


def test_shortcut_with_no_incident_at_all(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    ts = driver.user_posts(workspace.carol, workspace.random, "Is something down?")
    message = slack.message(workspace.random, ts)
    assert message is not None
    result = driver.message_shortcut(
        "add_to_timeline", user=workspace.bob, channel=workspace.random, message=message
    )
    assert "no incident" in response_to(slack, result.response_url)["text"]
    assert slack.calls_to("views.open") == []

