"""Owners' reminders: the rules, claiming under leases, sending once (both databases)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from blocks.action_items import KEY_PREFIX, key_of
from bot import action_items, followups, incidents
from bot.followups.policy import FollowUpPolicy, Kind, add_working_days, parse_time_of_day
from bot.slack.followup_sender import FollowUpSender
from bot.slack.reminder_sender import Outcome
from storage import Database
from storage.models_postmortems import FollowUpReminder
from tests.conftest import Workspace
from tests.emulator import SlackEmulator
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
    with db.session() as session:
        incident, _ = incidents.declare(
            session,
            title="Checkout is down",
            severity="sev2",
            declared_by="U0ALICE01",
            declare_key=uuid.uuid4().hex,
            now=T0,
        )
        assert incident.id is not None
        incident.channel_id = f"C{incident.id:08d}"
        item, _ = action_items.create(
            session,
            incident_id=incident.id,
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


def claim(db: Database, owner: str, now: datetime) -> list[followups.Claimed]:
    with db.session() as session:
        return followups.claim(session, owner=owner, policy=POLICY, now=now)


def prepare(
    db: Database, claimed: followups.Claimed, owner: str, now: datetime
) -> followups.Outgoing | None:
    with db.session() as session:
        return followups.prepare(session, claimed=claimed, owner=owner, policy=POLICY, now=now)


def test_one_replica_gets_each_due_reminder_and_a_dead_ones_lease_runs_out(db: Database) -> None:
    new_item(db, due_on=T0.date())
    new_item(db, due_on=None)
    due = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    assert claim(db, ME, due - timedelta(seconds=1)) == []
    [mine] = claim(db, ME, due)
    assert claim(db, OTHER, due + timedelta(seconds=5)) == []  # leased to ME
    out = prepare(db, mine, ME, due)
    assert out is not None and out.key == "action_item-1-20260304" and not out.check_first
    assert out.days_late == 0 and out.recipient == "U0BOB0001"
    # ME dies before recording: after the lease OTHER takes over, and must look first.
    [taken] = claim(db, OTHER, due + timedelta(seconds=31))
    again = prepare(db, taken, OTHER, due + timedelta(seconds=31))
    assert again is not None and again.key == out.key and again.check_first
    assert prepare(db, mine, ME, due + timedelta(seconds=32)) is None  # not ME's any more
    with db.session() as session:
        assert followups.record_sent(
            session,
            outgoing=again,
            owner=OTHER,
            channel_id="D1",
            message_ts="1.2",
            policy=POLICY,
            now=due + timedelta(seconds=32),
        )
        row = session.exec(select(FollowUpReminder).where(FollowUpReminder.subject_id == 1)).one()
    assert row.due_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC) and row.pending_key is None
    assert row.lease_owner is None and row.sent_count == 1
    # Two days later it is overdue; done, it is not reminded again.
    later = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)
    [next_one] = claim(db, ME, later)
    overdue = prepare(db, next_one, ME, later)
    assert overdue is not None and overdue.days_late == 2
    with db.session() as session:
        action_items.complete(session, item_id=1, actor="U0BOB0001", policy=POLICY, now=later)
    assert prepare(db, next_one, ME, later) is None
    assert claim(db, ME, later + timedelta(days=3)) == []


def test_a_failed_post_waits_and_keeps_its_key_when_it_may_have_arrived(db: Database) -> None:
    new_item(db, due_on=T0.date())
    due = datetime(2026, 3, 4, 9, 0, tzinfo=UTC)
    [claimed] = claim(db, ME, due)
    out = prepare(db, claimed, ME, due)
    assert out is not None
    with db.session() as session:
        followups.record_failure(
            session,
            reminder_id=claimed.reminder_id,
            owner=ME,
            error="HTTP 503",
            not_posted=False,
            now=due,
        )
    assert claim(db, ME, due + timedelta(seconds=1)) == []  # back-off
    [retry] = claim(db, ME, due + timedelta(seconds=2))
    again = prepare(db, retry, ME, due + timedelta(seconds=2))
    assert again is not None and again.check_first and again.key == out.key


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
    sender = FollowUpSender(db, slack_client, owner=ME, policy=policy, clock=clock)
    with db.session() as session:
        followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=first, policy=policy, now=now[0])
        followups.plan(session, kind=Kind.ACTION_ITEM, subject_id=second, policy=policy, now=now[0])
        claimed = followups.claim(session, owner=ME, policy=policy, now=now[0])
    assert len(claimed) == 2
    assert sender.send(claimed[0]) is Outcome.SENT
    [dm] = [m for m in slack.dms(workspace.bob) if key_of(m)]
    assert "AI-1" in dm["text"] and "is due today" in dm["text"]
    # Carol's reminder reached Slack, but the replica died before recording it.
    with db.session() as session:
        out = followups.prepare(session, claimed=claimed[1], owner=ME, policy=policy, now=now[0])
    assert out is not None
    slack_client.chat_postMessage(
        channel=workspace.carol,
        text="an earlier copy",
        blocks=[
            {
                "type": "section",
                "block_id": KEY_PREFIX + out.key,
                "text": {"type": "mrkdwn", "text": "x"},
            }
        ],
    )
    now[0] += timedelta(seconds=31)  # the lease ran out; another replica takes over
    other = FollowUpSender(db, slack_client, owner=OTHER, policy=policy, clock=clock)
    with db.session() as session:
        [taken] = followups.claim(session, owner=OTHER, policy=policy, now=now[0])
    assert other.send(taken) is Outcome.FOUND
    assert len([m for m in slack.dms(workspace.carol) if key_of(m)]) == 1
    with db.session() as session:
        assert len(followups.deliveries(session)) == 2
        assert followups.claim(session, owner=OTHER, policy=policy, now=now[0]) == []
