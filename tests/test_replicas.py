"""Reminders across real bot processes: SIGKILL and restart, two replicas on one database.

Each bot is `python app.py` in its own process, talking to the Slack emulator of this test
process; incidents are seeded straight into the database.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from blocks.reminders import key_of
from bot import incidents, reminders
from bot.reminders.claims import deliveries
from bot.reminders.policy import ReminderPolicy, parse_intervals
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_reminders import ReminderDelivery
from tests.processes import BotProcess

pytestmark = pytest.mark.scenario

INTERVAL = 1.0
SETTINGS = {
    "REMINDER_INTERVALS": f"sev1={int(INTERVAL)}s",
    "SCHEDULER_TICK_SECONDS": "1",
    "REMINDER_LEASE_SECONDS": "5",
    "NO_MANAGER_NUDGE_AFTER": "off",
}
POLICY = ReminderPolicy(intervals=parse_intervals(SETTINGS["REMINDER_INTERVALS"]))


def replica(owner: str) -> str:
    """The replica of a lease owner (bot.slack.delivery.replica_id: `host:pid:tag`)."""
    return owner.rsplit(":", 1)[0]


@pytest.fixture
def bots(slack: SlackEmulator, db_url: str, tmp_path: Path) -> Iterator[Any]:
    """Start bot processes on demand; all are stopped after the test (logs shown on failure)."""
    started: list[BotProcess] = []
    log_path = tmp_path / "bots.log"
    with log_path.open("w") as log:

        def start(count: int = 1) -> BotProcess | list[BotProcess]:
            """One bot, or `count` started at once (their start-ups overlap)."""
            bots = [BotProcess(slack, db_url, log, SETTINGS) for _ in range(count)]
            started.extend(bots)
            for bot in bots:
                bot.wait_healthy()
            return bots[0] if count == 1 else bots

        yield start
        for bot in started:
            bot.stop()
        database = _databases.pop(db_url, None)
        if database is not None:
            database.dispose()
    print(log_path.read_text()[-20000:])


def seed(slack: SlackEmulator, db_url: str, count: int) -> dict[int, str]:
    """`count` open SEV1 incidents, each with its channel, planned: incident id -> channel."""
    database = Database(db_url)
    made = {}
    try:
        for n in range(count):
            channel = slack.add_channel(f"inc-{n + 1}-replica-test")
            with database.session() as session:
                incident, _ = incidents.declare(
                    session,
                    title=f"Replica test {n + 1}",
                    severity="sev1",
                    declared_by="U0ALICE",
                    declare_key=uuid.uuid4().hex,
                )
                assert incident.id is not None
                incident.channel_id, incident.setup_state = channel, "complete"
                session.flush()
                reminders.replan(session, incident_id=incident.id, policy=POLICY)
                made[incident.id] = channel
    finally:
        database.dispose()
    return made


def posted(slack: SlackEmulator, channel: str) -> list[tuple[float, str]]:
    """(ts, key) of every reminder in the channel, oldest first."""
    found = []
    for message in slack.messages(channel):
        key = key_of(message)
        if key is not None:
            found.append((float(message["ts"]), key))
    return found


_databases: dict[str, Database] = {}


def recorded(db_url: str) -> list[ReminderDelivery]:
    """The deliveries recorded so far (through one engine per database, kept open)."""
    database = _databases.get(db_url)
    if database is None:
        database = _databases[db_url] = Database(db_url)
    with database.session() as session:
        return deliveries(session)


def assert_exactly_once(slack: SlackEmulator, db_url: str, channels: dict[int, str]) -> None:
    """Every reminder posted once, recorded once, never two for one due time."""
    keys_by_incident: dict[int, list[str]] = defaultdict(list)
    for delivery in recorded(db_url):
        keys_by_incident[delivery.incident_id].append(delivery.key)
    for incident_id, channel in channels.items():
        messages = posted(slack, channel)
        keys = [key for _, key in messages]
        assert len(keys) == len(set(keys)), f"a reminder was posted twice in {channel}"
        assert sorted(keys) == sorted(keys_by_incident[incident_id])
        gaps = [b - a for (a, _), (b, _) in itertools.pairwise(messages)]
        assert all(gap >= INTERVAL - 0.1 for gap in gaps), f"two reminders at once: {gaps}"


def test_a_killed_bot_sends_the_overdue_reminder_once_on_restart(
    bots: Any, slack: SlackEmulator, db_url: str
) -> None:
    channels = seed(slack, db_url, 1)
    [channel] = channels.values()
    first = bots()
    slack.wait_for(lambda: len(recorded(db_url)) == 1, timeout=10, interval=0.05)
    first.kill()
    killed = time.time()
    time.sleep(3 * INTERVAL)  # three reminders fall due while the bot is down
    assert len(posted(slack, channel)) == 1
    second = bots()
    started = time.time()
    slack.wait_for(lambda: len(posted(slack, channel)) == 2, timeout=10)
    time.sleep(INTERVAL * 0.6)
    messages = posted(slack, channel)
    assert len(messages) == 2, "the missed reminders came as a burst"
    assert killed < messages[1][0] < started + 1.0
    slack.wait_for(lambda: len(posted(slack, channel)) == 3, timeout=5)
    second.stop()  # a clean stop finishes the tick in flight: every post is recorded
    assert_exactly_once(slack, db_url, channels)


def test_two_replicas_send_each_reminder_once_while_one_is_killed(
    bots: Any, slack: SlackEmulator, db_url: str
) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("several replicas run on PostgreSQL")
    channels = seed(slack, db_url, 30)
    slack.set_latency(0.3, "chat.postMessage")  # a slow Slack widens every race
    first, second = bots(2)
    both = time.time()
    time.sleep(4)
    first.kill()
    killed = time.time()
    time.sleep(7)  # longer than the lease: the killed replica's claims are taken over
    second.stop()
    stopped = time.time()

    assert_exactly_once(slack, db_url, channels)
    done = recorded(db_url)
    # By replica (`host:pid`: a replica's processing worker names its pid too).
    before = {replica(d.sent_by) for d in done if d.sent_at.timestamp() < killed}
    after = {replica(d.sent_by) for d in done if d.sent_at.timestamp() > killed + 0.5}
    assert len(before) == 2, "both replicas should have sent reminders"
    assert len(after) == 1 and after < before, "only the survivor sends after the kill"
    for incident_id, channel in channels.items():
        late = [ts for ts, _ in posted(slack, channel) if killed + 5 < ts < stopped]
        assert late, f"incident {incident_id} got no reminder after the kill"

    # Once both run, reminders go out on time (the first ones fell due while they started);
    # those the killed replica had claimed wait at most for its lease to run out.
    def lateness(start: float, end: float) -> timedelta:
        return max(d.sent_at - d.due_at for d in done if start < d.due_at.timestamp() < end)

    assert lateness(both, killed - 1) < timedelta(seconds=2)
    lease = float(SETTINGS["REMINDER_LEASE_SECONDS"])
    assert lateness(both, stopped - 2) < timedelta(seconds=lease + 2)
