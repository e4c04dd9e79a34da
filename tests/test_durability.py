"""Nothing accepted is lost: real bot processes killed with SIGKILL right after answering.

Slack never sends an answered view submission, command or interaction again, nor an
acknowledged event. After a restart every accepted declaration exists and is set up once
(one channel, one card, one announcement, one checklist), and an acknowledged reaction is
on the timeline once. Over HTTP and over Socket Mode, on both databases; on PostgreSQL a
second replica takes over too.
"""

from __future__ import annotations

import re
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot import incidents
from playground.emulator import SlackDriver, SlackEmulator, SocketModeDriver
from storage import Database
from storage.models import Incident
from storage.models_inbox import InboxRequest
from storage.models_timeline import TimelineEntry
from tests.harness import SIGNING_SECRET
from tests.processes import BotProcess, StartBot, bot_processes  # noqa: F401
from tests.scenarios import open_declare_form, submit_declare
from web.intake_work import Kept
from web.journal import lines_beside

pytestmark = pytest.mark.scenario

STORM = 16
LATENCY = 0.3  # seconds per Web API call: Slack answering slowly
SETTINGS = {
    "INCIDENT_BROADCAST_CHANNEL": "incidents",
    "INBOX_LEASE_SECONDS": "2",  # a killed replica's requests are taken over after 2 s
    "REMINDER_LEASE_SECONDS": "5",  # ... and its claimed deliveries after 5 s (the least)
    "REMINDER_INTERVALS": "sev1=off,sev2=off,sev3=off,sev4=off",
    "NO_MANAGER_NUDGE_AFTER": "off",
    "PROCESS_WORKER": "auto",  # as deployed: the worker beside each bot on PostgreSQL
}


def _read(db_url: str, query: Any) -> list[Any]:
    database = Database(db_url)
    try:
        with database.read() as session:
            return list(session.exec(query).all())
    finally:
        database.dispose()


def _journaled(db_url: str) -> list[Kept]:
    """What the journal files hold (SQLite over HTTP keeps what it answers there first)."""
    database = _sqlite_file(db_url)
    return lines_beside(database) if database else []


def _journal_only(db_url: str) -> None:
    """Skip on PostgreSQL: the journal is SQLite's (web/journal.py)."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the journal is SQLite's: PostgreSQL keeps requests in the inbox")


def _sqlite_file(db_url: str) -> str | None:
    opened = Database(db_url)
    try:
        return opened.sqlite_file
    finally:
        opened.dispose()


def _with_block(messages: list[dict[str, Any]], block_id: str) -> list[dict[str, Any]]:
    return [m for m in messages if any(b.get("block_id") == block_id for b in m.get("blocks", []))]


def _storm(slack: SlackEmulator, driver: SlackDriver, users: list[str], general: str) -> None:
    """Open a declare form per user, then submit them all at once against a slow Slack."""
    views = [
        open_declare_form(driver, slack, user=user, channel=general, text=f"Outage {n}")
        for n, user in enumerate(users)
    ]
    slack.set_latency(LATENCY)

    def submit(n: int) -> int:
        result = submit_declare(driver, views[n], user=users[n], title=f"Outage {n}")
        return result.status

    with ThreadPoolExecutor(max_workers=len(users)) as pool:
        statuses = list(pool.map(submit, range(len(users))))
    assert statuses == [200] * len(users)


def _assert_each_set_up_once(slack: SlackEmulator, db_url: str, users: list[str]) -> None:
    deadline = time.monotonic() + 90
    while True:
        found = _read(db_url, select(Incident).order_by(col(Incident.number)))
        if len(found) == STORM and all(i.setup_state == "complete" for i in found):
            break
        states = [i.setup_state for i in found]
        assert time.monotonic() < deadline, f"setups did not finish: {states}"
        time.sleep(0.2)
    assert sorted(i.title for i in found) == sorted(f"Outage {n}" for n in range(STORM))
    announcements = slack.messages("incidents")
    created = slack.calls_to("conversations.create")
    channels = [c.params["name"] for c in created if c.response.get("ok")]
    for incident in found:
        made = [name for name in channels if name.startswith(f"inc-{incident.number}-")]
        assert made == [incident.channel_name], f"#{incident.number}: channels {made}"
        channel = str(incident.channel_id)
        cards = _with_block(slack.messages(channel), f"incident_card_{incident.id}")
        assert [m["ts"] for m in cards] == [incident.card_ts], f"#{incident.number}: cards"
        assert [m["ts"] for m in slack.pins(channel)] == [incident.card_ts]
        lines = _with_block(announcements, f"incident_broadcast_{incident.id}")
        assert [m["ts"] for m in lines] == [incident.broadcast_ts], f"#{incident.number}: lines"
        manager = incident.declared_by
        checklists = _with_block(slack.dms(manager), f"incident_checklist_{incident.id}")
        assert len(checklists) == 1, f"#{incident.number}: {len(checklists)} checklists"
    assert sorted(i.declared_by for i in found) == sorted(users)
    deadline = time.monotonic() + 20
    while _read(db_url, select(InboxRequest).where(col(InboxRequest.processed_at).is_(None))):
        assert time.monotonic() < deadline, "inbox requests left unprocessed"
        time.sleep(0.2)


def _people(slack: SlackEmulator) -> tuple[list[str], str]:
    users = [slack.add_user(f"responder{n}") for n in range(STORM)]
    general = slack.add_channel("general", members=users, is_general=True)
    slack.add_channel("incidents", members=users)
    return users, general


@pytest.mark.parametrize("transport", ["http", "socket_mode"])
def test_a_declaration_storm_survives_sigkill(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    transport: str,
) -> None:
    users, general = _people(slack)
    socket_mode = transport == "socket_mode"
    several = db_url.startswith("postgresql")  # replicas share PostgreSQL, not SQLite
    first = bot_processes(socket_mode=socket_mode, **SETTINGS)
    other = bot_processes(socket_mode=socket_mode, **SETTINGS) if several else None

    driver: SlackDriver
    if socket_mode:
        slack.sockets.wait_connected(opened=2 if several else 1)
        driver = SocketModeDriver(slack)  # the newest connection: the first replica's if alone
    else:
        driver = SlackDriver(first.events_url, SIGNING_SECRET, slack)
    _storm(slack, driver, users, general)
    target: BotProcess | None = first
    if socket_mode and other is not None and slack.sockets.live()[-1].number == 2:
        target = other  # envelopes went to the newest connection: the second replica's
    assert target is not None
    target.kill()  # right after the last answer

    kept = _read(db_url, select(InboxRequest).where(InboxRequest.kind == "interactive"))
    keys = {row.key for row in kept} | {k.key for k in _journaled(db_url)}
    assert len(keys) == STORM, "every declaration answered is kept before the answer"
    accepted = _read(db_url, select(Incident))
    unfinished = len(accepted) < STORM or any(i.setup_state != "complete" for i in accepted)
    assert unfinished, "the kill interrupted no declaration"
    # Restart, and kill again as soon as the resumed setups ask to post their cards, then
    # their announcements, then their checklists: each time while those posts are in flight
    # (Slack makes them; the killed bot never hears back).
    for step in ("incident_card_", "incident_broadcast_", "incident_checklist_"):
        before = len(_posted(slack, step))
        restarted = bot_processes(socket_mode=socket_mode, **SETTINGS)  # beside any survivor

        def asked(step: str = step, before: int = before) -> bool:
            posts = len(_posted(slack, step))
            return posts > before or posts >= STORM  # a survivor may have done them all

        slack.wait_for(asked, timeout=30, interval=0.02)
        restarted.kill()
    bot_processes(socket_mode=socket_mode, **SETTINGS)
    _assert_each_set_up_once(slack, db_url, users)


def _posted(slack: SlackEmulator, block_id_prefix: str) -> list[Any]:
    """chat.postMessage calls (answered or not) with a block id starting with the prefix."""
    started = slack.calls_started("chat.postMessage")
    return [params for params in started if block_id_prefix in str(params.get("blocks"))]


def _seed_incident(slack: SlackEmulator, db_url: str, users: list[str]) -> tuple[int, str]:
    channel = slack.add_channel("inc-1-payments-down", members=users)
    database = Database(db_url)
    try:
        with database.session() as session:
            incident, _ = incidents.declare(
                session,
                title="Payments down",
                severity="sev1",
                declared_by=users[0],
                declare_key=uuid.uuid4().hex,
            )
            incident.channel_id, incident.setup_state = channel, "complete"
            session.flush()
            assert incident.id is not None
            return incident.id, channel
    finally:
        database.dispose()


@pytest.mark.parametrize("transport", ["http", "socket_mode"])
def test_an_acknowledged_reaction_survives_sigkill(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    transport: str,
) -> None:
    users, _ = _people(slack)
    incident_id, channel = _seed_incident(slack, db_url, users)
    socket_mode = transport == "socket_mode"
    bot = bot_processes(socket_mode=socket_mode, **SETTINGS)
    driver: SlackDriver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    if socket_mode:
        slack.sockets.wait_connected()
        driver = SocketModeDriver(slack)
    ts = driver.user_posts(users[1], channel, "Card payments fail since 10:02")
    slack.set_latency(1.0)  # reading the message takes a second: the kill comes before
    result = driver.user_reacts(users[0], channel, ts, "pushpin")
    assert result.status == 200
    bot.kill()

    def entries() -> list[TimelineEntry]:
        query = select(TimelineEntry).where(TimelineEntry.message_ts == ts)
        return _read(db_url, query)

    assert entries() == [], "the kill came after the reaction was processed"
    slack.set_latency(0)
    bot_processes(socket_mode=socket_mode, **SETTINGS)
    slack.wait_for(lambda: entries(), timeout=30, interval=0.1)

    def confirmations() -> list[Any]:
        calls = slack.calls_to("reactions.add")
        return [c for c in calls if c.params.get("timestamp") == ts and c.status == 200]

    slack.wait_for(confirmations, timeout=10)
    time.sleep(1.0)  # anything done twice would show by now
    assert len(entries()) == 1 and entries()[0].incident_id == incident_id
    assert len(confirmations()) == 1


def test_requests_answered_from_the_journal_survive_sigkill(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    """On SQLite, a reaction, a command and a declare form answered while another process
    held the write lock are in the journal file only (web/journal.py) when the bot is
    killed: the next process moves them into the inbox and processes each once."""
    _journal_only(db_url)
    users, general = _people(slack)
    incident_id, channel = _seed_incident(slack, db_url, users)
    bot = bot_processes(**SETTINGS)  # with its processing worker, as SQLite now runs
    deadline = time.monotonic() + 30
    while not re.search(r"processing worker \S+ ready", (tmp_path / "bots.log").read_text()):
        assert time.monotonic() < deadline, "no processing worker became ready"
        time.sleep(0.05)
    driver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    ts = driver.user_posts(users[1], channel, "Card payments fail since 10:02")
    view = open_declare_form(driver, slack, user=users[2], channel=general)

    def inbox() -> list[InboxRequest]:
        return _read(db_url, select(InboxRequest))

    slack.wait_for(lambda: len(inbox()) == 2 and all(r.processed_at for r in inbox()))
    database = _sqlite_file(db_url)
    assert database is not None
    holder = sqlite3.connect(database, isolation_level=None, timeout=30)
    holder.execute("BEGIN IMMEDIATE")  # the bot cannot move what it answers into the inbox
    try:
        reaction = driver.user_reacts(users[0], channel, ts, "pushpin")
        command = driver.slash_command("help", user=users[0], channel=channel)
        form = submit_declare(driver, view, user=users[2], title="Journaled outage")
        assert [reaction.status, command.status, form.status] == [200, 200, 200]
        assert not form.view_errors
        assert len(_journaled(db_url)) == 3
        bot.kill()
    finally:
        holder.rollback()
        holder.close()

    def entries() -> list[TimelineEntry]:
        return _read(db_url, select(TimelineEntry).where(TimelineEntry.message_ts == ts))

    def helped() -> list[Any]:
        return [r for r in slack.responses if r["url"] == command.response_url]

    def declared() -> list[Incident]:
        return _read(db_url, select(Incident).where(Incident.title == "Journaled outage"))

    assert entries() == [] and helped() == [] and declared() == [] and len(inbox()) == 2
    bot_processes(**SETTINGS)
    slack.wait_for(
        lambda: entries() and helped() and [i for i in declared() if i.setup_state == "complete"],
        timeout=30,
        interval=0.1,
    )
    time.sleep(1.0)  # anything done twice would show by now
    assert len(entries()) == 1 and entries()[0].incident_id == incident_id
    assert len(helped()) == 1 and len(declared()) == 1
    created = [c for c in slack.calls_to("conversations.create") if c.response.get("ok")]
    assert [c.params["name"] for c in created] == [declared()[0].channel_name]
    assert len(inbox()) == 5 and _journaled(db_url) == []
