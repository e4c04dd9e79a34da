"""Posting claimed reminders to the Slack emulator: once, retried, recovered after a crash.

The runner (`bot.slack.delivery`) with the reminders' courier, over real HTTP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot import reminders
from bot.core import delivery
from bot.core.delivery import Claimed
from bot.reminders import claims
from bot.reminders.claims import ReminderSource
from bot.reminders.policy import Kind, ReminderPolicy, parse_intervals
from bot.slack import reminder_sender
from bot.slack.delivery import Outcome, Runner, delivery_client
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_reminders import Reminder
from storage.types import utcnow
from tests.bot.conftest import declare
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
    return delivery_client(WebClient(token=BOT_TOKEN, base_url=slack.api_url), lease=POLICY.lease)


SOURCE = ReminderSource(POLICY)


def sender(db: Database, client: WebClient, clock: Clock, owner: str = "a") -> Runner[Any]:
    return Runner(db, SOURCE, reminder_sender.post(client, POLICY), owner=owner, clock=clock)


def declare_due(db: Database, channel: str, clock: Clock) -> int:
    """A SEV1 incident declared 15 minutes ago: its first reminder is due now."""
    return declare(db, at=clock() - timedelta(minutes=15), channel=channel, policy=POLICY)


def claim_one(db: Database, clock: Clock, owner: str = "a") -> Claimed:
    with db.session() as session:
        [claimed] = delivery.claim(session, SOURCE, owner=owner, now=clock())
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
    assert "<@U0ALICE01>" in str(message["text"]) and "15m" in str(message["text"])
    actions = [b for b in message["blocks"] if b["type"] == "actions"]  # type: ignore[attr-defined]
    buttons = [(e["action_id"], e["value"]) for e in actions[0]["elements"]]
    assert buttons == [
        ("incident_post_update", str(incident_id)),
        ("reminder_snooze_15", f"{incident_id}:15"),
        ("reminder_snooze_30", f"{incident_id}:30"),
        ("reminder_snooze_60", f"{incident_id}:60"),
    ]
    with db.session() as session:
        [logged] = claims.deliveries(session)
    assert logged.message_ts == message["ts"] and logged.channel_id == channel


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


def prepare(db: Database, clock: Clock, owner: str) -> delivery.Job[claims.Outgoing]:
    """Claim and prepare the due reminder as `owner` would, right before its post."""
    with db.session() as session:
        job = delivery.prepare(
            session, SOURCE, claim_one(db, clock, owner), owner=owner, now=clock()
        )
    assert job is not None
    return job


def test_a_post_that_reached_slack_before_a_crash_is_not_posted_again(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    job = prepare(db, clock, "a")
    message = reminder_sender.message(job.item, clock())
    ts = client.chat_postMessage(channel=channel, text=message.text, blocks=message.blocks)["ts"]
    # ...and replica "a" is killed before it records the post.
    clock.advance(POLICY.lease + timedelta(seconds=1))
    assert sender(db, client, clock, "b").send(claim_one(db, clock, "b")) is Outcome.FOUND
    assert len(reminders_in(slack, channel)) == 1
    with db.session() as session:
        assert [d.key for d in claims.deliveries(session)] == [job.attempt.key]
    row = update_row(db)
    assert row.sent_count == 1  # the next one counts from when the found post went out
    assert row.last_sent_at == datetime.fromtimestamp(float(ts), UTC)


def test_a_crash_before_the_post_means_the_next_replica_posts_it(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    prepare(db, clock, "a")
    clock.advance(POLICY.lease + timedelta(seconds=1))
    assert sender(db, client, clock, "b").send(claim_one(db, clock, "b")) is Outcome.SENT
    assert len(slack.calls_to("conversations.history")) == 1
    assert len(reminders_in(slack, channel)) == 1


@pytest.mark.parametrize(("status", "error"), [(500, None), (200, "internal_error")])
def test_a_post_that_may_have_arrived_is_looked_for_then_posted_once(
    db: Database,
    slack: SlackEmulator,
    channel: str,
    client: WebClient,
    status: int,
    error: str | None,
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    slack.fail("chat.postMessage", status=status, error=error)
    send = sender(db, client, clock)
    assert send.send(claim_one(db, clock)) is Outcome.FAILED
    failed = update_row(db)
    assert failed.attempts == 1 and failed.pending_key
    assert str(status if error is None else error) in str(failed.last_error)
    with db.session() as session:
        assert delivery.claim(session, SOURCE, owner="a", now=clock()) == []
    clock.advance(timedelta(seconds=delivery.RETRY_BASE_SECONDS))
    assert send.send(claim_one(db, clock)) is Outcome.SENT
    assert len(reminders_in(slack, channel)) == 1
    assert len(slack.calls_to("conversations.history")) == 1  # it may have posted: checked
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


def test_an_archived_channel_stops_the_reminder_instead_of_retrying(
    db: Database, slack: SlackEmulator, client: WebClient
) -> None:
    clock = Clock()
    archived = slack.add_channel("inc-2-archived", archived=True)
    declare_due(db, archived, clock)
    assert sender(db, client, clock).send(claim_one(db, clock)) is Outcome.GAVE_UP
    row = update_row(db)
    assert row.due_at is None and row.pending_key is None
    assert row.last_error == "gave up: Slack answered `is_archived`"
    with db.session() as session:
        assert delivery.claim(session, SOURCE, owner="a", now=clock()) == []
    assert len(slack.calls_to("chat.postMessage")) == 1


def test_a_revoked_token_is_retried_not_given_up(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declare_due(db, channel, clock)
    slack.fail("chat.postMessage", error="token_revoked")
    send = sender(db, client, clock)
    assert send.send(claim_one(db, clock)) is Outcome.FAILED
    assert update_row(db).pending_key is None  # refused: nothing was posted
    clock.advance(timedelta(seconds=delivery.RETRY_BASE_SECONDS))
    assert send.send(claim_one(db, clock)) is Outcome.SENT
    assert slack.calls_to("conversations.history") == []


def test_a_nudge_mentions_the_channel_and_offers_the_role(
    db: Database, slack: SlackEmulator, channel: str, client: WebClient
) -> None:
    clock = Clock()
    declared = clock() - timedelta(minutes=5)
    declare(db, severity="sev4", at=declared, manager=False, channel=channel, policy=POLICY)
    with db.session() as session:
        row = session.exec(select(Reminder).where(Reminder.kind == Kind.NO_MANAGER.value)).one()
        assert row.due_at == declared + timedelta(minutes=5)
    assert sender(db, client, clock).send(claim_one(db, clock)) is Outcome.SENT
    [message] = slack.messages(channel)
    assert str(message["text"]).startswith(":busts_in_silhouette: <!channel>")
    assert "no incident manager for *5m*" in str(message["text"])
    assert "Nudge 1 of 3." in str(message["blocks"])
    assert "incident_assign_role" in str(message["blocks"])
