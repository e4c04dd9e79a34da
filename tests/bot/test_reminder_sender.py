"""Posting claimed reminders to the Slack emulator: once, retried, recovered after a crash."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import delete, select

from bot import incidents, reminders
from bot.core import leases
from bot.reminders import claims
from bot.reminders.policy import Kind, ReminderPolicy, parse_intervals
from bot.slack.reminder_sender import Outcome, ReminderSender, reminder_client
from storage import Database
from storage.models import IncidentRole
from storage.models_reminders import Reminder
from storage.types import utcnow
from tests.emulator import SlackEmulator
from tests.harness import BOT_TOKEN

POLICY = ReminderPolicy(intervals=parse_intervals("sev1=15m"), nudge_max=3)


class Clock:
    """Real time, moved forward by hand."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@pytest.fixture
def channel(slack: SlackEmulator) -> str:
    return slack.add_channel("inc-1-checkout")


@pytest.fixture
def client(slack: SlackEmulator) -> WebClient:
    return reminder_client(WebClient(token=BOT_TOKEN, base_url=slack.api_url), lease=POLICY.lease)


def sender(db: Database, client: WebClient, clock: Clock, owner: str = "a") -> ReminderSender:
    return ReminderSender(db, client, owner=owner, policy=POLICY, clock=clock)


def declare_due(db: Database, channel: str, clock: Clock, *, manager: bool = True) -> int:
    """A SEV1 incident declared 15 minutes ago: its first reminder is due now."""
    declared = clock() - timedelta(minutes=15)
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Checkout is down",
            severity="sev1",
            declared_by="U0ALICE",
            declare_key=uuid.uuid4().hex,
            now=declared,
        )
        assert incident.id is not None
        incident.channel_id = channel
        reminders.replan(session, incident_id=incident.id, policy=POLICY, now=declared)
        return incident.id


def claim_one(db: Database, clock: Clock, owner: str = "a") -> claims.Claimed:
    with db.session() as session:
        [claimed] = claims.claim(session, owner=owner, policy=POLICY, now=clock())
        return claimed


def reminders_in(slack: SlackEmulator, channel: str) -> list[dict[str, object]]:
    return [m for m in slack.messages(channel) if "status update" in str(m.get("text"))]


def update_row(db: Database) -> Reminder:
    with db.session() as session:
        return session.exec(select(Reminder).where(Reminder.kind == Kind.UPDATE.value)).one()


def test_posts_the_reminder_with_its_buttons(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    incident_id = declare_due(db, channel, clock)
    assert sender(db, client, clock).send(claim_one(db, clock)) is Outcome.SENT
    [message] = reminders_in(slack, channel)
    assert "<@U0ALICE>" in str(message["text"]) and "15m" in str(message["text"])
    actions = [b for b in message["blocks"] if b["type"] == "actions"]  # type: ignore[attr-defined]
    buttons = [(e["action_id"], e["value"]) for e in actions[0]["elements"]]
    assert buttons == [
        ("incident_post_update", str(incident_id)),
        ("reminder_snooze_15", f"{incident_id}:15"),
        ("reminder_snooze_30", f"{incident_id}:30"),
        ("reminder_snooze_60", f"{incident_id}:60"),
    ]
    with db.session() as session:
        [delivery] = claims.deliveries(session)
    assert delivery.message_ts == message["ts"] and delivery.channel_id == channel


def test_a_snooze_pressed_while_a_reminder_is_posted_holds_back_the_next(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    incident_id = declare_due(db, channel, clock)
    claimed = claim_one(db, clock)
    real_post = client.chat_postMessage
    pressed: list[datetime] = []

    def post_then_snooze(**kwargs: Any) -> Any:
        answer = real_post(**kwargs)  # the reminder is in Slack; someone presses snooze at once
        pressed.append(clock())
        with db.session() as session:
            reminders.snooze(
                session, incident_id=incident_id, minutes=60, policy=POLICY, now=pressed[0]
            )
        return answer

    client.chat_postMessage = post_then_snooze  # type: ignore[method-assign]
    assert sender(db, client, clock).send(claimed) is Outcome.SENT
    row = update_row(db)
    assert row.snoozed_until is not None
    assert row.due_at == pressed[0] + timedelta(minutes=60)


def test_a_post_that_reached_slack_before_a_crash_is_not_posted_again(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    first = sender(db, client, clock, "a")
    claimed = claim_one(db, clock, "a")
    with db.session() as session:
        out = claims.prepare(session, claimed=claimed, owner="a", policy=POLICY, now=clock())
    assert out is not None
    ts = first._post(out)  # ...and the process is killed before it records the post
    clock.advance(POLICY.lease + timedelta(seconds=1))
    second = sender(db, client, clock, "b")
    assert second.send(claim_one(db, clock, "b")) is Outcome.FOUND
    assert len(reminders_in(slack, channel)) == 1
    with db.session() as session:
        assert [d.key for d in claims.deliveries(session)] == [out.key]
    row = update_row(db)
    assert row.sent_count == 1  # the next one counts from when the found post went out
    assert row.last_sent_at == datetime.fromtimestamp(float(ts or 0), UTC)


def test_a_crash_before_the_post_means_the_next_replica_posts_it(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    claimed = claim_one(db, clock, "a")
    with db.session() as session:
        assert claims.prepare(session, claimed=claimed, owner="a", policy=POLICY, now=clock())
    clock.advance(POLICY.lease + timedelta(seconds=1))
    assert sender(db, client, clock, "b").send(claim_one(db, clock, "b")) is Outcome.SENT
    assert len(slack.calls_to("conversations.history")) == 1
    assert len(reminders_in(slack, channel)) == 1


def test_a_failed_post_is_retried_and_posted_once(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    slack.fail("chat.postMessage", status=500)
    send = sender(db, client, clock)
    assert send.send(claim_one(db, clock)) is Outcome.FAILED
    failed = update_row(db)
    assert failed.attempts == 1 and failed.pending_key and "500" in str(failed.last_error)
    with db.session() as session:
        assert claims.claim(session, owner="a", policy=POLICY, now=clock()) == []
    clock.advance(timedelta(seconds=leases.RETRY_BASE_SECONDS))
    assert send.send(claim_one(db, clock)) is Outcome.SENT
    assert len(reminders_in(slack, channel)) == 1
    assert len(slack.calls_to("conversations.history")) == 1  # a 500 may have posted: checked
    assert update_row(db).attempts == 0


def test_a_refused_post_waits_as_long_as_slack_asks(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    slack.fail("chat.postMessage", status=429, retry_after=20)
    send = sender(db, client, clock)
    started = clock()
    assert send.send(claim_one(db, clock)) is Outcome.FAILED
    failed = update_row(db)
    assert failed.pending_key is None  # a 429 proves nothing was posted
    assert failed.due_at is not None and failed.due_at >= started + timedelta(seconds=20)
    clock.advance(timedelta(seconds=21))
    assert send.send(claim_one(db, clock)) is Outcome.SENT
    assert slack.calls_to("conversations.history") == []
    assert len(reminders_in(slack, channel)) == 1


def test_a_nudge_mentions_the_channel_and_offers_the_role(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Nobody home",
            severity="sev4",
            declared_by="U0ALICE",
            declare_key="k",
            now=clock() - timedelta(minutes=5),
        )
        incident.channel_id = channel
        session.execute(delete(IncidentRole))
        assert incident.id is not None
        reminders.replan(session, incident_id=incident.id, policy=POLICY, now=clock())
        row = session.exec(select(Reminder).where(Reminder.kind == Kind.NO_MANAGER.value)).one()
        assert row.due_at == incident.declared_at + timedelta(minutes=5)
    assert sender(db, client, clock).send(claim_one(db, clock)) is Outcome.SENT
    [message] = slack.messages(channel)
    assert str(message["text"]).startswith(":busts_in_silhouette: <!channel>")
    assert "no incident manager for *5m*" in str(message["text"])
    assert "Nudge 1 of 3." in str(message["blocks"])
    assert "incident_assign_role" in str(message["blocks"])
