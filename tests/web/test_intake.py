"""The inbox in the running bot: kept before answered, processed once, taken over after a crash.

A crash is played by putting the inbox row in the state a killed replica leaves it in (kept,
lease run out, perhaps applied): the running bot's sweep must take it over. The process
tests (tests/test_durability.py) kill real processes.
"""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import update
from sqlmodel import col, select

from bot.core import inbox
from playground.emulator import SlackDriver, SlackEmulator
from storage.models_inbox import InboxRequest
from storage.models_timeline import TimelineEntry
from storage.types import utcnow
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, inbox_rows, must, pin_event

pytestmark = pytest.mark.scenario


@pytest.fixture
def quick(start_bot: Callable[..., RunningBot], workspace: Workspace) -> RunningBot:
    """The bot with a 2 s lease: rows of a dead replica are taken over within seconds."""
    return start_bot(inbox_lease_seconds=2)


def _crash(
    bot: RunningBot, row_id: int, *, applied: bool = False, attempts: int | None = None
) -> None:
    """Leave the row as a replica killed while processing it leaves it (after `attempts`
    attempts, if given: in the same write, since the sweep may take the row over at once)."""
    values: dict[str, Any] = {
        "processed_at": None,
        "lease_owner": "dead-replica",
        "lease_until": utcnow() - timedelta(seconds=1),
        "applied_at": utcnow() if applied else None,
    }
    if attempts is not None:
        values["attempts"] = attempts
    with bot.runtime.services.db.session() as session:
        session.execute(update(InboxRequest).where(col(InboxRequest.id) == row_id).values(values))


def _kept(bot: RunningBot, form: dict[str, str], *, attempts: int | None = None) -> int:
    """A slash command kept in the inbox by a replica that died before processing it."""
    body = urlencode(form)
    row_id = bot.runtime.intake.store(
        kind="slash_commands",
        key=inbox.key_for(event_id=None, body=body.encode()),
        mode="http",
        content_type="application/x-www-form-urlencoded",
        body=body,
    )
    assert row_id is not None
    _crash(bot, row_id, attempts=attempts)
    return row_id


def _processed(slack: SlackEmulator, bot: RunningBot, row_id: int) -> InboxRequest:
    def done() -> InboxRequest | None:
        row = next(r for r in inbox_rows(bot) if r.id == row_id)
        return row if row.processed_at is not None else None

    found: InboxRequest = slack.wait_for(done, timeout=15, interval=0.05)
    return found


def _command(slack: SlackEmulator, user: str, channel: str, text: str) -> dict[str, str]:
    return {
        "command": "/incident",
        "text": text,
        "user_id": user,
        "channel_id": channel,
        "team_id": slack.team_id,
        "api_app_id": slack.app_id,
        "response_url": slack.new_response_url(channel=channel, user=user),
        "trigger_id": slack.issue_trigger_id(user),
    }


def test_every_request_is_kept_and_marked_processed(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    slack.wait_for(lambda: all(r.processed_at for r in inbox_rows(bot)))
    rows = inbox_rows(bot)
    assert [(r.kind, r.mode) for r in rows] == [
        ("slash_commands", "http"),
        ("interactive", "http"),
    ]
    assert all(r.key.startswith("body:") and r.lease_until is None for r in rows)
    # Opening a form writes nothing of its own: the gate's look at the person's rate limit
    # is bookkeeping, outside the fence (a crash before the answer runs it again in full).
    assert rows[0].applied_at is None
    assert rows[1].applied_at is not None  # the submission recorded the incident


def test_the_same_event_delivered_three_times_is_processed_once(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "p99 back under 200 ms")
    slack.react_as_user(workspace.alice, channel, ts, "pushpin")
    event = pin_event(slack, user=workspace.alice, channel=channel, ts=ts)
    results = [
        driver.event(event, event_id="EvINBOX3X1"),
        driver.event(event, event_id="EvINBOX3X1", retry_num=1),
        driver.event(event, event_id="EvINBOX3X1", retry_num=2, retry_reason="http_error"),
    ]
    assert [r.status for r in results] == [200, 200, 200]

    def fetched() -> list[Any]:
        return [c for c in slack.calls_to("reactions.get") if c.params.get("timestamp") == ts]

    slack.wait_for(
        lambda: [r for r in inbox_rows(bot) if r.key == "event:EvINBOX3X1" and r.processed_at]
    )
    time.sleep(0.3)
    assert len([r for r in inbox_rows(bot) if r.key == "event:EvINBOX3X1"]) == 1
    assert len(fetched()) == 1  # the listener ran once, not three times
    with bot.runtime.services.db.read() as session:
        entries = session.exec(select(TimelineEntry).where(TimelineEntry.message_ts == ts)).all()
    assert len(entries) == 1


def test_a_request_kept_by_a_dead_replica_is_processed(
    quick: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    form = _command(slack, workspace.alice, workspace.general, "help")
    row_id = _kept(quick, form)
    row = _processed(slack, quick, row_id)
    assert row.attempts == 2 and row.error is None
    assert "/incident" in response_to(slack, form["response_url"])["text"]


def test_a_form_too_late_to_open_after_a_restart_tells_the_user(
    quick: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.trigger_ttl = 0.2  # Slack: 3 s; the restart took longer
    form = _command(slack, workspace.alice, workspace.general, "declare Checkout errors")
    time.sleep(0.3)
    row_id = _kept(quick, form)
    _processed(slack, quick, row_id)
    text = response_to(slack, form["response_url"])["text"]
    assert "too long to open" in text and "do it again" in text
    assert slack.calls_to("views.open")[-1].response["error"] == "expired_trigger_id"
    assert slack.current_view(workspace.alice) is None


def test_a_request_whose_writes_were_committed_is_not_run_again(
    quick: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = quick.driver(slack)
    incident = declare(quick, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = str(incident.channel_id)
    result = driver.slash_command("note Rolled back to v41", user=workspace.alice, channel=channel)
    assert result.status == 200

    def kept() -> list[InboxRequest]:  # (on SQLite, moved from the journal once answered)
        return [r for r in inbox_rows(quick) if r.kind == "slash_commands" and "note" in r.body]

    [row] = slack.wait_for(kept)
    row_id = must(row.id)
    assert _processed(slack, quick, row_id).applied_at is not None  # the note was its write

    def notes() -> list[TimelineEntry]:
        with quick.runtime.services.db.read() as session:
            query = select(TimelineEntry).where(TimelineEntry.kind == "note")
            return list(session.exec(query).all())

    assert len(notes()) == 1
    _crash(quick, row_id, applied=True)  # killed after its commit, before it finished
    again = _processed(slack, quick, row_id)
    assert again.attempts == 2
    time.sleep(0.3)
    assert len(notes()) == 1  # the note was not written twice


def test_a_request_that_crashes_the_bot_every_time_is_given_up(
    quick: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    form = _command(slack, workspace.alice, workspace.general, "help")
    row_id = _kept(quick, form, attempts=inbox.MAX_ATTEMPTS)
    row = _processed(slack, quick, row_id)
    assert row.error == f"gave up after {inbox.MAX_ATTEMPTS} attempts"
    assert slack.responses == []


def test_processed_requests_are_trimmed_after_the_retention(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(inbox_retention_days=1)
    driver = bot.driver(slack)
    for text in ("help", "list"):
        assert driver.slash_command(text, user=workspace.alice, channel=workspace.general).ok
    slack.wait_for(
        lambda: len(inbox_rows(bot)) == 2 and all(r.processed_at for r in inbox_rows(bot))
    )
    old = inbox_rows(bot)[0]
    with bot.runtime.services.db.session() as session:
        session.execute(
            update(InboxRequest)
            .where(col(InboxRequest.id) == old.id)
            .values(processed_at=utcnow() - timedelta(days=2))
        )
    assert bot.runtime.intake.trim() == 1
    assert [r.id for r in inbox_rows(bot)] == [must(old.id) + 1]


def test_one_persons_commands_are_processed_in_the_order_they_came(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    """Answered at once, processed after: a person's second command waits for their first
    (here a form that takes Slack a second to open); another person's does not wait."""
    slack.set_latency(1.0, "views.open")
    sent = time.monotonic()
    first = driver.slash_command(
        "declare Slow form", user=workspace.alice, channel=workspace.general
    )
    second = driver.slash_command("help", user=workspace.alice, channel=workspace.general)
    other = driver.slash_command("help", user=workspace.bob, channel=workspace.general)
    assert first.status == second.status == other.status == 200
    assert time.monotonic() - sent < 0.9  # all three answered before the form opened

    def answered(result: Any) -> float:
        response_to(slack, result.response_url)
        return time.monotonic() - sent

    assert answered(other) < 0.9  # Bob's help came at once
    assert answered(second) >= 0.9  # Alice's help after her form was open
    assert slack.wait_for("views.open").status == 200


def test_a_burst_of_events_is_kept_in_a_few_statements_each_once(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    """The events that arrive while a keep is written are kept together in one statement
    (Intake.store_async, web/group_commit.py); an event delivered twice is kept once."""
    from concurrent.futures import ThreadPoolExecutor

    intake = bot.runtime.intake
    before = intake.keeps
    events = [
        ({"type": "app_mention", "user": workspace.alice, "channel": workspace.general,
          "text": f"burst {n}", "ts": slack.next_ts(), "event_ts": slack.next_ts()},
         f"EvBURST{n % 30:03d}")  # 40 deliveries of 30 events: 10 of them twice
        for n in range(40)
    ]  # fmt: skip
    with ThreadPoolExecutor(40) as pool:
        results = list(pool.map(lambda e: driver.event(e[0], event_id=e[1]), events))
    assert [r.status for r in results] == [200] * 40

    def burst() -> list[InboxRequest]:  # (on SQLite, moved from the journal once answered)
        return [r for r in inbox_rows(bot) if r.key.startswith("event:EvBURST")]

    slack.wait_for(lambda: len(burst()) >= 30)
    time.sleep(0.2)  # an event kept twice would show by now
    assert sorted(r.key for r in burst()) == sorted({f"event:{e}" for _, e in events})
    statements = intake.keeps - before
    assert 1 <= statements < 40, statements


def test_on_sqlite_answers_do_not_wait_for_the_write_lock_and_nothing_is_lost(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    """Over HTTP on SQLite, requests answered at once are kept in the journal file
    (web/journal.py): answered while another process holds SQLite's write lock, and moved
    into the inbox and processed, once each, when it is free."""
    database = bot.runtime.services.db.sqlite_file
    if database is None:
        pytest.skip("PostgreSQL has no one write lock: requests are kept in the inbox")
    journal = bot.runtime.intake.journal
    assert journal is not None
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = str(incident.channel_id)
    ts = driver.user_posts(workspace.bob, channel, "p99 back under 200 ms")
    slack.react_as_user(workspace.alice, channel, ts, "pushpin")
    slack.wait_for(lambda: journal.pending == 0 and all(r.processed_at for r in inbox_rows(bot)))
    holder = sqlite3.connect(database, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # another process writes, and takes its time
    try:
        event = pin_event(slack, user=workspace.alice, channel=channel, ts=ts)
        reaction = driver.event(event, event_id="EvJOURNAL01")
        again = driver.event(event, event_id="EvJOURNAL01", retry_num=1)
        command = driver.slash_command("help", user=workspace.bob, channel=workspace.general)
        assert [reaction.status, again.status, command.status] == [200, 200, 200]
        time.sleep(0.3)
        assert journal.pending == 3, "answered before any of them reached the inbox"
        assert not [r for r in inbox_rows(bot) if r.key == "event:EvJOURNAL01"]
        assert not [r for r in slack.responses if r["url"] == command.response_url]
    finally:
        holder.rollback()
        holder.close()
    assert "/incident" in str(response_to(slack, command.response_url, timeout=15))
    slack.wait_for(lambda: journal.pending == 0, timeout=15)
    slack.wait_for(lambda: all(r.processed_at for r in inbox_rows(bot)), timeout=15)
    time.sleep(0.3)
    assert len([r for r in inbox_rows(bot) if r.key == "event:EvJOURNAL01"]) == 1
    assert len([r for r in slack.responses if r["url"] == command.response_url]) == 1
    with bot.runtime.services.db.read() as session:
        entries = session.exec(select(TimelineEntry).where(TimelineEntry.message_ts == ts)).all()
    assert len(entries) == 1
    assert os.path.getsize(journal.path) == 0


def test_a_journal_that_cannot_be_written_leaves_the_keep_to_the_inbox(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace, caplog
) -> None:
    """A full disk refuses the journal's write: the request is kept in the inbox before its
    answer instead, as without a journal, and processed once."""
    journal = bot.runtime.intake.journal
    if journal is None:
        pytest.skip("PostgreSQL has no journal: requests are kept in the inbox")
    writable, journal.fd = journal.fd, os.open(journal.path, os.O_RDONLY)  # writes now fail
    try:
        command = driver.slash_command("help", user=workspace.bob, channel=workspace.general)
        assert command.status == 200
        assert "/incident" in str(response_to(slack, command.response_url, timeout=15))
    finally:
        os.close(journal.fd)
        journal.fd = writable
    assert any("could not write to the journal" in r.getMessage() for r in caplog.records)
    slack.wait_for(lambda: all(r.processed_at for r in inbox_rows(bot)))
    assert len([r for r in slack.responses if r["url"] == command.response_url]) == 1
    assert journal.pending == 0
