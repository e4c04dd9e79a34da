"""Owners' reminders: the rules, claiming under leases, sending once (both databases)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from blocks.action_items import KEY_PREFIX, key_of
from bot import action_items, followups
from bot.core import delivery
from bot.core.delivery import Claimed, Receipt
from bot.followups.claims import FollowUpSource, Outgoing
from bot.followups.policy import FollowUpPolicy, Kind, add_working_days, parse_time_of_day
from bot.slack.delivery import Outcome, Runner
from bot.slack.followup_sender import post
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_postmortems import FollowUpReminder
from tests.bot.conftest import declare
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN

T0 = datetime(2026, 3, 4, 7, 0, tzinfo=UTC)  # a Wednesday, before the 09:00 reminder
POLICY = FollowUpPolicy(lease=timedelta(seconds=30))
ME, OTHER = "replica-a", "replica-b"


def test_working_days_skip_weekends() -> None:
    wednesday, friday = date(2026, 3, 4), date(2026, 3, 6)
    assert add_working_days(wednesday, 5) == date(2026, 3, 11)
    assert add_working_days(friday, 1) == date(2026, 3, 9)
    assert add_working_days(friday, 0) == friday
    late_friday = datetime(2026, 3, 6, 23, 30, tzinfo=UTC)
    paris = FollowUpPolicy(tz=ZoneInfo("Europe/Paris"), due_working_days=1)
    assert paris.postmortem_due(late_friday) == date(2026, 3, 9)  # Saturday in Paris: Monday
    assert FollowUpPolicy(due_working_days=1).postmortem_due(late_friday) == date(2026, 3, 9)


def test_reminders_go_out_at_the_team_time_once_a_day() -> None:
    paris = FollowUpPolicy(remind_at=time(9, 30), tz=ZoneInfo("Europe/Paris"))
    due = date(2026, 3, 4)
    assert paris.next_due(due_on=due, last_sent_at=None) == datetime(2026, 3, 4, 8, 30, tzinfo=UTC)
    sent = datetime(2026, 3, 4, 8, 31, tzinfo=UTC)
    assert paris.next_due(due_on=due, last_sent_at=sent) == datetime(2026, 3, 5, 8, 30, tzinfo=UTC)
    assert paris.next_due(due_on=None, last_sent_at=None) is None
    assert paris.key("action_item", 7, sent) == "action_item-7-20260304"
    assert parse_time_of_day("7:05") == time(7, 5)
    for bad in ("25:00", "9", "09:60", "nine"):
        with pytest.raises(ValueError, match="HH:MM"):
            parse_time_of_day(bad)


def new_item(db: Database, *, due_on: date | None, owner: str = "U0BOB0001") -> int:
    incident_id = declare(db, severity="sev2", at=T0)
    with db.session() as session:
        item, _ = action_items.create(
            session,
            incident_id=incident_id,
            text="Add an alert",
            owner=owner,
            created_by="U0ALICE01",
            via=action_items.Via.COMMAND,
            due_on=due_on,
            policy=POLICY,
            now=T0,
        )
        assert item.id is not None
        return item.id


def claim(
    db: Database, owner: str, now: datetime, policy: FollowUpPolicy = POLICY
) -> list[Claimed]:
    with db.session() as session:
        return delivery.claim(session, FollowUpSource(policy), owner=owner, now=now)


def prepare(db: Database, claimed: Claimed, owner: str, now: datetime) -> Outgoing | None:
    with db.session() as session:
        job = delivery.prepare(session, FollowUpSource(POLICY), claimed, owner=owner, now=now)
        return job.item if job else None


def test_one_replica_gets_each_due_reminder_once_a_day_until_it_is_done(db: Database) -> None:
    new_item(db, due_on=T0.date())
    new_item(db, due_on=None)
    due = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert claim(db, ME, due - timedelta(seconds=1)) == []
    [mine] = claim(db, ME, due)
    assert claim(db, OTHER, due + timedelta(seconds=5)) == []  # leased to ME
    with db.session() as session:
        first = delivery.prepare(session, FollowUpSource(POLICY), mine, owner=ME, now=due)
    assert first is not None and not first.attempt.check_first
    out = first.item
    assert out.key == "action_item-1-20260304"
    assert out.days_late == 0 and out.recipient == "U0BOB0001"
    # ME dies before recording: after the lease OTHER takes over, and must look first.
    [taken] = claim(db, OTHER, due + timedelta(seconds=31))
    with db.session() as session:
        job = delivery.prepare(
            session, FollowUpSource(POLICY), taken, owner=OTHER, now=due + timedelta(seconds=31)
        )
        assert job is not None and job.item.key == out.key and job.attempt.check_first
        sent = Receipt(due + timedelta(seconds=32), "D1", "1.2")
        source = FollowUpSource(POLICY)
        assert delivery.record_sent(session, source, job, sent, owner=OTHER, now=sent.sent_at)
        row = session.exec(select(FollowUpReminder).where(FollowUpReminder.subject_id == 1)).one()
    assert row.due_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC) and row.pending_key is None
    assert row.lease_owner is None and row.sent_count == 1
    with db.session() as session:
        [logged] = followups.deliveries(session, kind=Kind.ACTION_ITEM)
    assert (logged.recipient, logged.channel_id, logged.message_ts) == ("U0BOB0001", "D1", "1.2")
    # Two days later it is overdue; done, it is not reminded again.
    later = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    [next_one] = claim(db, ME, later)
    overdue = prepare(db, next_one, ME, later)
    assert overdue is not None and overdue.days_late == 2 and overdue.key.endswith("20260306")
    with db.session() as session:
        action_items.complete(session, item_id=1, actor="U0BOB0001", policy=POLICY, now=later)
    assert prepare(db, next_one, ME, later) is None
    assert claim(db, ME, later + timedelta(days=3)) == []


@pytest.fixture
def slack_client(slack: SlackEmulator, workspace: Workspace) -> WebClient:
    return WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[])


def test_the_sender_posts_once_and_finds_an_earlier_post(
    db: Database, slack: SlackEmulator, workspace: Workspace, slack_client: WebClient
) -> None:
    now = [datetime.now(UTC)]
    clock: Callable[[], datetime] = lambda: now[0]  # noqa: E731
    policy = FollowUpPolicy(remind_at=time(0, 0))
    first = new_item(db, due_on=now[0].date(), owner=workspace.bob)
    second = new_item(db, due_on=now[0].date(), owner=workspace.carol)
    sender = Runner(db, FollowUpSource(policy), post(slack_client), owner=ME, clock=clock)
    with db.session() as session:
        followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=first, policy=policy, now=now[0])
        followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=second, policy=policy, now=now[0])
    claimed = claim(db, ME, now[0], policy)
    assert len(claimed) == 2
    assert sender.send(claimed[0]) is Outcome.SENT
    [dm] = [m for m in slack.dms(workspace.bob) if key_of(m)]
    assert "AI-1" in dm["text"] and "is due today" in dm["text"]
    # Carol's reminder reached Slack, but the replica died before recording it.
    with db.session() as session:
        job = delivery.prepare(session, FollowUpSource(policy), claimed[1], owner=ME, now=now[0])
    assert job is not None
    slack_client.chat_postMessage(
        channel=workspace.carol,
        text="an earlier copy",
        blocks=[
            {
                "type": "section",
                "block_id": KEY_PREFIX + job.attempt.key,
                "text": {"type": "mrkdwn", "text": "x"},
            }
        ],
    )
    now[0] += timedelta(seconds=31)  # the lease ran out; another replica takes over
    other = Runner(db, FollowUpSource(policy), post(slack_client), owner=OTHER, clock=clock)
    [taken] = claim(db, OTHER, now[0], policy)
    assert other.send(taken) is Outcome.FOUND
    assert len([m for m in slack.dms(workspace.carol) if key_of(m)]) == 1
    with db.session() as session:
        assert len(followups.deliveries(session)) == 2
    assert claim(db, OTHER, now[0], policy) == []


def test_an_owner_who_cannot_be_written_to_is_not_retried_until_the_item_changes(
    db: Database, slack: SlackEmulator, workspace: Workspace, slack_client: WebClient
) -> None:
    now = datetime.now(UTC)
    policy = FollowUpPolicy(remind_at=time(0, 0))
    item_id = new_item(db, due_on=now.date(), owner=workspace.bob)
    with db.session() as session:
        followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=item_id, policy=policy, now=now)
    slack.fail("conversations.open", error="user_not_found")
    sender = Runner(db, FollowUpSource(policy), post(slack_client), owner=ME, clock=lambda: now)
    [claimed] = claim(db, ME, now, policy)
    assert sender.send(claimed) is Outcome.GAVE_UP
    assert claim(db, ME, now + timedelta(days=2), policy) == []
    assert slack.calls_to("chat.postMessage") == []
    with db.session() as session:  # the item changes (e.g. a new owner): planned again
        followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=item_id, policy=policy, now=now)
    assert sender.tick()["sent"] == 1
