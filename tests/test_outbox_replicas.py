"""Side effects across real bot processes: SIGKILL in the middle of deliveries, restarts, and
two replicas on one PostgreSQL database, one killed midway. Every delivery is done once.

Each bot is `python app.py` in its own process, talking to the Slack emulator of this test
process; people act through signed requests to whichever bot is alive.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from bot.slack.keyed import key_of
from playground.emulator import SlackDriver, SlackEmulator
from storage import Database
from storage.models import Incident
from storage.models_outbox import OutboxDelivery
from storage.models_timeline import TimelineEntry
from tests.conftest import Workspace
from tests.harness import SIGNING_SECRET
from tests.scenarios import open_declare_form, submit_declare
from tests.test_replicas import BotProcess

pytestmark = pytest.mark.scenario

SETTINGS = {
    "SCHEDULER_TICK_SECONDS": "1",
    "REMINDER_LEASE_SECONDS": "5",  # a killed bot's deliveries are taken over after this
    "NO_MANAGER_NUDGE_AFTER": "off",
    "INCIDENT_BROADCAST_CHANNEL": "#incidents",
    "RATE_LIMITS": "declare=50/1m,costly=300/1m",  # one person declares many here
}


class Bots:
    """Bot processes on one database, and that database, read from this test."""

    def __init__(self, slack: SlackEmulator, db_url: str, log: Any) -> None:
        self.slack, self.db_url, self.log = slack, db_url, log
        self.db = Database(db_url)
        self.started: list[BotProcess] = []

    def start(self) -> BotProcess:
        [bot] = self.start_together(1)
        return bot

    def start_together(self, count: int) -> list[BotProcess]:
        """`count` bots started at once (their start-ups overlap); returns when all serve."""
        bots = [
            BotProcess(self.slack, self.db_url, self.log, settings=SETTINGS) for _ in range(count)
        ]
        self.started.extend(bots)
        for bot in bots:
            bot.wait_healthy()
        return bots

    def driver(self, bot: BotProcess) -> SlackDriver:
        url = f"http://127.0.0.1:{bot.port}/slack/events"
        return SlackDriver(app_url=url, signing_secret=SIGNING_SECRET, emulator=self.slack)

    def incidents(self) -> list[Incident]:
        with self.db.read() as session:
            return list(session.exec(select(Incident).order_by(col(Incident.number))).all())

    def deliveries(self) -> list[OutboxDelivery]:
        with self.db.read() as session:
            return list(session.exec(select(OutboxDelivery)).all())

    def all_delivered(self) -> bool:
        rows = self.deliveries()
        return bool(rows) and all(r.delivered_at is not None for r in rows)


@pytest.fixture
def bots(slack: SlackEmulator, db_url: str, tmp_path: Path) -> Iterator[Bots]:
    log_path = tmp_path / "bots.log"
    with log_path.open("w") as log:
        found = Bots(slack, db_url, log)
        yield found
        for bot in found.started:
            bot.stop()
        found.db.dispose()
    print(log_path.read_text()[-30000:])


def declare_through(
    bots: Bots, bot: BotProcess, workspace: Workspace, title: str, severity: str = "sev2"
) -> None:
    driver = bots.driver(bot)
    view = open_declare_form(
        driver, bots.slack, user=workspace.alice, channel=workspace.general, text=title
    )
    result = submit_declare(
        driver, view, user=workspace.alice, title=title, severity=severity, manager=workspace.bob
    )
    assert result.status == 200


def keyed_messages(slack: SlackEmulator) -> Counter[str]:
    """How many messages (threads and direct messages included) carry each delivery id."""
    found: Counter[str] = Counter()
    with slack.ws.lock:
        channels = list(slack.ws.channels.values())
        for channel in channels:
            for message in channel.messages:
                key = key_of(message)
                if key:
                    found[key] += 1
    return found


def assert_every_delivery_once(bots: Bots, slack: SlackEmulator, workspace: Workspace) -> None:
    """No message twice, one channel, one pinned card, one announcement and one checklist per
    incident, one timeline entry per event."""
    keys = keyed_messages(slack)
    assert keys and max(keys.values()) == 1, [k for k, n in keys.items() if n > 1]
    made = bots.incidents()
    incidents_channel = slack.channel_by_name("incidents")
    assert incidents_channel is not None
    announced = slack.messages(incidents_channel["id"])  # updated in place after each change
    assert sorted(m["ts"] for m in announced) == sorted(i.broadcast_ts or "" for i in made)
    checklists = [m for m in slack.dms(workspace.bob) if "incident manager of" in m["text"]]
    assert len(checklists) == len(made)
    for incident in made:
        prefix = f"inc-{incident.number}-"
        with slack.ws.lock:
            names = [c.name for c in slack.ws.channels.values() if c.name.startswith(prefix)]
        assert names == [incident.channel_name], names
        assert incident.channel_id is not None
        pins = slack.pins(incident.channel_id)
        assert [p["ts"] for p in pins] == [incident.card_ts]
    with bots.db.read() as session:
        entries = session.exec(select(TimelineEntry.incident_id, TimelineEntry.event_key)).all()
    assert len(entries) == len(set(entries))


def wait_until(check: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_sigkill_during_a_status_change_ends_on_the_new_status_after_restart(
    bots: Bots, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.add_channel("incidents", members=[workspace.alice])
    first = bots.start()
    declare_through(bots, first, workspace, "Payments are failing")
    wait_until(lambda: [i.setup_state for i in bots.incidents()] == ["complete"], 15, "the setup")
    [incident] = bots.incidents()
    channel = incident.channel_id
    assert channel is not None and incident.card_ts and incident.broadcast_ts
    slack.set_latency(0.6)  # every Web API call is slow: the deliveries are in flight
    bots.driver(first).slash_command("status identified", user=workspace.alice, channel=channel)
    wait_until(lambda: bots.incidents()[0].status == "identified", 10, "the status change")
    time.sleep(0.3)
    first.kill()
    killed = time.time()
    slack.set_latency(0)
    pending = [r for r in bots.deliveries() if r.delivered_at is None]
    assert pending, "the deliveries had finished before the kill; the test proves nothing"

    bots.start()
    broadcast = incident.broadcast_channel_id
    assert broadcast is not None

    def shows_identified() -> bool:
        card = slack.message(channel, incident.card_ts or "") or {}
        line = slack.message(broadcast, incident.broadcast_ts or "") or {}
        topic = slack.channel(channel)["topic"]["value"]
        return (
            topic.startswith("SEV2 | Identified")
            and "Identified" in card.get("text", "")
            and "Identified" in str(line.get("blocks"))
        )

    wait_until(shows_identified, 20, "topic, card and broadcast line on the new status")
    wait_until(bots.all_delivered, 20, "every delivery")
    notices = [
        m
        for m in slack.messages(channel)
        if "changed the status from Investigating to *Identified*" in m.get("text", "")
    ]
    assert len(notices) == 1
    assert [p["ts"] for p in slack.pins(channel)] == [incident.card_ts]
    assert len(slack.messages(broadcast)) == 1
    assert time.time() - killed < 30
    assert_every_delivery_once(bots, slack, workspace)


def test_setups_interrupted_by_sigkill_finish_once_after_restart(
    bots: Bots, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.add_channel("incidents", members=[workspace.alice])
    first = bots.start()
    slack.set_latency(0.4)
    for n in range(3):
        declare_through(bots, first, workspace, f"Outage number {n}")
    wait_until(lambda: len(bots.incidents()) == 3, 15, "three incidents recorded")
    time.sleep(0.5)  # channels being made, the rest queued behind them
    first.kill()
    assert any(i.setup_state != "complete" for i in bots.incidents())
    slack.set_latency(0)
    bots.start()
    wait_until(lambda: all(i.setup_state == "complete" for i in bots.incidents()), 30, "the setups")
    wait_until(bots.all_delivered, 20, "every delivery")
    assert_every_delivery_once(bots, slack, workspace)


def test_two_replicas_deliver_everything_once_while_one_is_killed(
    bots: Bots, slack: SlackEmulator, workspace: Workspace, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several replicas run on PostgreSQL")
    slack.add_channel("incidents", members=[workspace.alice])
    first, second = bots.start_together(2)
    slack.set_latency(0.3)  # a slow Slack widens every race
    for n in range(6):
        declare_through(bots, (first, second)[n % 2], workspace, f"Replica outage {n}")
    wait_until(lambda: len(bots.incidents()) == 6, 20, "six incidents recorded")
    time.sleep(0.6)
    first.kill()  # midway: setups of both replicas in flight
    assert any(r.delivered_at is None for r in bots.deliveries())
    survivor = bots.driver(second)
    for incident in bots.incidents():
        wait_until(
            lambda i=incident.id: next(x for x in bots.incidents() if x.id == i).channel_id,
            30,
            "the channel",
        )
    for incident in bots.incidents():
        assert incident.channel_id is not None
        survivor.slash_command(
            "status identified", user=workspace.alice, channel=incident.channel_id
        )
        survivor.slash_command("severity sev1", user=workspace.alice, channel=incident.channel_id)
    wait_until(lambda: all(i.setup_state == "complete" for i in bots.incidents()), 40, "the setups")
    wait_until(
        lambda: bots.all_delivered() and len(bots.deliveries()) >= 6 * 20, 40, "every delivery"
    )
    slack.set_latency(0)
    assert_every_delivery_once(bots, slack, workspace)
    for incident in bots.incidents():
        assert incident.channel_id is not None
        topic = slack.channel(incident.channel_id)["topic"]["value"]
        assert topic.startswith("SEV1 | Identified"), topic
        notices = [
            m["text"]
            for m in slack.messages(incident.channel_id)
            if "changed the" in m.get("text", "")
        ]
        assert len(notices) == 2, notices
    # Both replicas delivered (`host:pid` names a replica, its processing worker included).
    by = Counter(r.delivered_by.rsplit(":", 1)[0] for r in bots.deliveries() if r.delivered_by)
    assert len([owner for owner in by if ":" in owner]) == 2, by
