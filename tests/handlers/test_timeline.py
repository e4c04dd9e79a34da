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
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import EventReceipt, Incident
from storage.models_timeline import TimelineEntry
from tests.conftest import Workspace
from tests.handlers.conftest import Room
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, pin_event

pytestmark = pytest.mark.scenario


@pytest.fixture
def declare_fields() -> dict[str, Any]:
    return {}  # Alice, who declares, manages it


@pytest.fixture
def incident(
    incident: Incident, bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> Incident:
    """The shared incident, with Bob and Carol in its channel and its first timeline entry."""
    assert incident.setup_state == "complete"
    slack.add_members(str(incident.channel_id), workspace.bob, workspace.carol)
    # The timeline records the declaration right after the setup: wait for it too.
    slack.wait_for(lambda: len(_entries(bot, "event")) == 1)
    return incident


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


def _wait_entries(room: Room, n: int) -> list[TimelineEntry]:
    room.slack.wait_for(lambda: len(_entries(room.bot)) == n)
    return _entries(room.bot)


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


def _reaction_event(room: Room, user: str, ts: str, **extra: Any) -> dict[str, Any]:
    """A `reaction_added` event for a message of the room, as Slack delivers it."""
    return pin_event(room.slack, user=user, channel=room.channel, ts=ts, **extra)


def test_pinned_message_lands_on_the_timeline_quietly(room: Room) -> None:
    ws, slack = room.ws, room.slack
    ts = room.post(
        ws.bob,
        f"<@{ws.carol}> look at <https://grafana.example.com/d/1|the DB dashboard> "
        "&amp; <#C0FAKE1|ops>",
        files=[{"name": "cpu.png", "content": b"png"}],
    )
    before = len(slack.messages(room.channel, include_replies=True))
    assert room.react(ws.carol, ts).status == 200
    [entry] = _wait_entries(room, 1)
    assert entry.incident_id == room.incident.id
    assert (
        entry.text
        == "@Carol Chen look at the DB dashboard (https://grafana.example.com/d/1) & #ops"
    )
    assert (entry.author, entry.author_name) == (ws.bob, "Bob Baker")
    assert entry.occurred_at == tl.ts_to_datetime(ts)  # the message's time, not the reaction's
    assert entry.files == "cpu.png"
    assert entry.permalink and entry.permalink.endswith("p" + ts.replace(".", ""))
    assert (entry.added_via, entry.added_by) == ("reaction", ws.carol)
    slack.wait_for(lambda: "memo" in _reactions(slack, room.channel, ts))
    assert _reactions(slack, room.channel, ts)["memo"] == [slack.bot_user_id]
    assert len(slack.messages(room.channel, include_replies=True)) == before  # no chatter


@pytest.mark.parametrize("fault", ["bad_signature", "stale_timestamp"])
def test_a_forged_or_replayed_event_is_refused_and_ignored(room: Room, fault: str) -> None:
    """Events are answered before Bolt sees them, but only once their signature is checked."""
    ts = room.post(room.ws.bob, "the queue is backing up")
    room.slack.clear_calls()
    forged = room.driver.with_options(**{fault: True})
    assert forged.user_reacts(room.ws.carol, room.channel, ts, "pushpin").status == 401
    _idle(room.bot)
    assert _entries(room.bot) == []
    assert room.slack.calls == []


def test_threaded_message_counts_too(room: Room) -> None:
    ws = room.ws
    parent = room.post(ws.bob, "Investigating the DB")
    reply = room.post(ws.carol, "Replica lag is 40s", thread_ts=parent)
    room.react(ws.alice, reply)
    [entry] = _wait_entries(room, 1)
    assert (entry.message_ts, entry.thread_ts) == (reply, parent)
    assert entry.text == "Replica lag is 40s" and entry.author == ws.carol


def test_edited_then_deleted_after_pinning(room: Room) -> None:
    ws, bot = room.ws, room.bot
    ts = room.post(ws.bob, "Root cause: disk ful")
    room.react(ws.bob, ts)
    _wait_entries(room, 1)
    room.driver.user_edits(
        ws.bob, room.channel, ts, "Root cause: disk full on <@" + ws.alice + ">'s host"
    )
    room.slack.wait_for(
        lambda: _entries(bot)[0].text == "Root cause: disk full on @Alice Archer's host"
    )
    assert _entries(bot)[0].edited_ts is not None
    room.driver.user_deletes(room.channel, ts)
    room.slack.wait_for(lambda: _entries(bot)[0].deleted_at is not None)
    [entry] = _entries(bot)
    assert entry.text == "Root cause: disk full on @Alice Archer's host"  # kept, marked deleted


def test_reaction_removed_by_one_of_two_reactors(room: Room) -> None:
    ws, slack = room.ws, room.slack
    ts = room.post(ws.bob, "Failover started")
    room.react(ws.alice, ts)
    room.react(ws.carol, ts)
    _wait_entries(room, 1)
    _idle(room.bot)
    room.driver.user_unreacts(ws.alice, room.channel, ts, "pushpin")
    _idle(room.bot)
    assert len(_entries(room.bot)) == 1  # Carol still has it on
    assert "memo" in _reactions(slack, room.channel, ts)
    room.driver.user_unreacts(ws.carol, room.channel, ts, "pushpin")
    _wait_entries(room, 0)
    slack.wait_for(lambda: "memo" not in _reactions(slack, room.channel, ts))


def test_the_same_event_delivered_three_times(room: Room) -> None:
    ws, driver, slack = room.ws, room.driver, room.slack
    ts = room.post(ws.bob, "Error rate back to normal")
    slack.react_as_user(ws.alice, room.channel, ts, "pushpin")
    event = _reaction_event(room, ws.alice, ts, item_user=ws.bob)
    receipts = _receipts(room.bot)
    results = [
        driver.event(event, event_id="EvTHRICE01"),
        driver.event(event, event_id="EvTHRICE01", retry_num=1),
        driver.event(event, event_id="EvTHRICE01", retry_num=2, retry_reason="http_error"),
    ]
    assert [r.status for r in results] == [200, 200, 200]
    _wait_entries(room, 1)
    _idle(room.bot)
    assert len(_entries(room.bot)) == 1
    assert _receipts(room.bot) == receipts + 1
    assert len([c for c in slack.calls_to("reactions.add") if c.params.get("timestamp") == ts]) == 1


def test_reaction_outside_incident_channels_costs_nothing(room: Room) -> None:
    ws, driver, slack = room.ws, room.driver, room.slack
    ts = driver.user_posts(ws.bob, ws.general, "lunch?")
    _idle(room.bot)
    slack.clear_calls()
    receipts = _receipts(room.bot)
    assert driver.user_reacts(ws.alice, ws.general, ts, "pushpin").status == 200
    driver.user_edits(ws.bob, ws.general, ts, "lunch at 12?")
    driver.user_deletes(ws.general, ts)
    _idle(room.bot)
    assert slack.calls == []
    assert _entries(room.bot) == [] and _receipts(room.bot) == receipts


def test_other_emoji_and_the_bots_own_reaction_are_ignored(room: Room) -> None:
    ts = room.post(room.ws.bob, "Is it DNS?")
    room.react(room.ws.alice, ts, "eyes")
    bot_user = room.slack.bot_user_id
    room.slack.react_as_user(bot_user, room.channel, ts, "pushpin")
    room.driver.event(_reaction_event(room, bot_user, ts))
    _idle(room.bot)
    assert _entries(room.bot) == []


def test_configured_emoji_list(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(timeline_emoji="round_pushpin, star")
    driver = bot.driver(slack)
    found = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    room = Room(bot, driver, slack, workspace, found)
    one, two, three = (room.post(workspace.alice, text) for text in ("one", "two", "three"))
    room.react(workspace.alice, one, "pushpin")
    room.react(workspace.alice, two, "star")
    room.react(workspace.alice, three, "round_pushpin")
    _wait_entries(room, 2)
    _idle(bot)
    assert [e.text for e in _entries(bot)] == ["two", "three"]


def test_a_command_that_mentions_payload_is_not_taken_for_an_interaction(room: Room) -> None:
    """Bolt's own body parser reads any form containing "payload" as an interaction and, with
    no payload field, gives listeners an empty body: this note matched nothing and was lost."""
    result = room.command("note The payload service drops payload=big bodies", user=room.ws.bob)
    assert "Noted on the timeline" in response_to(room.slack, result.response_url)["text"]
    [note] = _entries(room.bot, "note")
    assert note.text == "The payload service drops payload=big bodies"


def test_note_and_the_bots_own_entries(room: Room) -> None:
    ws, slack, bot = room.ws, room.slack, room.bot
    result = room.command(f"note Paged the DBA <@{ws.carol}|carol>", user=ws.bob)
    assert "Noted on the timeline of incident #1" in response_to(slack, result.response_url)["text"]
    empty = room.command("note", user=ws.bob)
    assert "/incident note <text>" in response_to(slack, empty.response_url)["text"]
    elsewhere = room.driver.slash_command("note hi", user=ws.bob, channel=ws.general)
    assert "incident's channel" in response_to(slack, elsewhere.response_url)["text"]
    room.command("status identified", user=ws.alice)
    slack.wait_for(lambda: len(_entries(bot, "event")) == 2)
    [note] = _entries(bot, "note")
    assert (note.text, note.author, note.author_name) == (
        "Paged the DBA @Carol Chen",
        ws.bob,
        "Bob Baker",
    )
    events = _entries(bot, "event")
    assert [e.text for e in events] == [
        "declared incident #1 Database is down (SEV2)",
        "changed the status from Investigating to Identified",
    ]
    assert all(e.author == ws.alice and e.author_name == "Alice Archer" for e in events)


def test_shortcut_from_another_channel_asks_which_incident(room: Room) -> None:
    ws, driver, slack = room.ws, room.driver, room.slack
    ts = driver.user_posts(ws.carol, ws.random, "Customers report timeouts")
    message = slack.message(ws.random, ts)
    assert message is not None
    result = driver.message_shortcut(
        "add_to_timeline", user=ws.bob, channel=ws.random, message=message
    )
    assert result.status == 200
    slack.wait_for(lambda: slack.current_view(ws.bob) is not None)
    form = slack.current_view(ws.bob)
    assert form is not None and form["callback_id"] == "timeline_pick_incident"
    select_ = form["blocks"][1]["element"]
    assert select_["initial_option"]["value"] == str(room.incident.id)  # the only incident
    none = driver.view_submission(form, {"incident": {"incident": None}}, user=ws.bob)
    assert none.json["response_action"] == "errors"
    done = driver.view_submission(
        form, {"incident": {"incident": str(room.incident.id)}}, user=ws.bob
    )
    assert done.status == 200 and done.view_errors == []
    [entry] = _wait_entries(room, 1)
    assert (entry.channel_id, entry.message_ts, entry.text) == (
        ws.random,
        ts,
        "Customers report timeouts",
    )
    assert (entry.added_via, entry.added_by, entry.author) == ("shortcut", ws.bob, ws.carol)
    assert entry.permalink and entry.permalink.endswith("p" + ts.replace(".", ""))
    body = response_to(slack, result.response_url)
    assert "Added to the timeline of incident #1" in body["text"]
    # Again from inside the incident channel: no question, and no second copy.
    inside = slack.message(room.channel, room.post(ws.bob, "Scaling up"))
    assert inside is not None
    direct = driver.message_shortcut(
        "add_to_timeline", user=ws.bob, channel=room.channel, message=inside
    )
    assert "Added to the timeline" in response_to(slack, direct.response_url)["text"]
    again = driver.message_shortcut(
        "add_to_timeline", user=ws.bob, channel=room.channel, message=inside
    )
    assert "already on the timeline" in response_to(slack, again.response_url)["text"]
    assert len(_entries(room.bot)) == 2


def test_500_entry_timeline_renders_in_pages_and_downloads(room: Room) -> None:
    ws, driver, slack, bot = room.ws, room.driver, room.slack, room.bot
    assert room.incident.id is not None
    with bot.runtime.services.db.session() as session:
        for n in range(500):
            message = tl.CapturedMessage(
                channel_id=room.channel,
                ts=f"{1772373600 + n}.000100",
                author=ws.bob,
                author_name="Bob Baker",
                text=f"step {n} " + "details " * 500,
                files=[f"log-{n}.txt"],
            )
            tl.add_message(
                session,
                incident_id=room.incident.id,
                message=message,
                added_via=tl.Via.REACTION,
                added_by=ws.bob,
            )
    total = 500 + len(_entries(bot, "event"))
    answer = _answer(slack, room.command("timeline", user=ws.alice).response_url)
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
            "timeline_later", user=ws.alice, message=page, channel=room.channel, ephemeral=True
        )
        answer = _answer(slack, click.response_url)
    assert pages == -(-total // 30) and len(seen) == total
    assert "step 0 " in seen[0] and "step 499 " in seen[499]
    download = driver.block_actions(
        "timeline_download", user=ws.alice, message=page, channel=room.channel, ephemeral=True
    )
    assert "as a file" in response_to(slack, download.response_url)["text"]
    [shared] = [m for m in slack.dms(ws.alice) if m.get("files")]
    content = slack.file_content(shared["files"][0]["id"]).decode()
    assert content.startswith("## Timeline of incident #1: Database is down")
    assert content.count("\n- **") == 500 + len(_entries(bot, "event"))


def test_two_replicas_given_the_same_event_make_one_entry(
    room: Room, start_bot: Callable[..., RunningBot]
) -> None:
    other = start_bot()  # a second replica on the same database
    ts = room.post(room.ws.bob, "Both replicas see this")
    room.slack.react_as_user(room.ws.carol, room.channel, ts, "pushpin")
    event = _reaction_event(room, room.ws.carol, ts)
    replicas = [room.driver, other.driver(room.slack)]
    for n in range(4):
        assert replicas[n % 2].event(event, event_id="EvREPLICA1", retry_num=n or None).ok
    _wait_entries(room, 1)
    _idle(room.bot)
    _idle(other)
    assert len(_entries(room.bot)) == 1


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
