"""`/incident stats`, the App Home with 500 incidents, and the weekly digest."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.insights import digest
from bot.slack.insights import DigestSender
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident, IncidentRole
from storage.models_library import DigestDelivery
from storage.models_postmortems import ActionItem, PostMortem
from storage.types import utcnow
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to

pytestmark = pytest.mark.scenario


def _seed(
    bot: RunningBot,
    count: int,
    *,
    manager: str,
    private_channel: str | None = None,
    all_resolved: bool = False,
) -> None:
    """`count` incidents declared over the last 20 days: acknowledged after 5 min (the
    private one, #1, after 50 min), every other one resolved after 2 h; `manager` manages
    each, owns one action item per incident and each resolved one's overdue post-mortem."""
    now = utcnow()
    with bot.runtime.services.db.session() as session:
        for n in range(1, count + 1):
            declared = now - timedelta(days=20) + timedelta(minutes=n)
            resolved = all_resolved or n % 2 == 0
            private = n == 1 and private_channel is not None
            incident = Incident(
                number=n,
                title=f"Incident <{n}> & co",
                severity=f"sev{n % 4 + 1}",
                declared_by=manager,
                declare_key=f"k{n}",
                private=private,
                channel_id=private_channel if private else f"CI{n:06d}",
                status="resolved" if resolved else "investigating",
                declared_at=declared,
                acknowledged_at=declared + timedelta(minutes=50 if private else 5),
                resolved_at=declared + timedelta(hours=2) if resolved else None,
            )
            session.add(incident)
            session.flush()
            assert incident.id is not None
            session.add(
                IncidentRole(
                    incident_id=incident.id,
                    role="incident_manager",
                    user_id=manager,
                    assigned_by=manager,
                )
            )
            session.add(
                ActionItem(
                    incident_id=incident.id,
                    text=f"Fix <thing> {n}",
                    owner=manager,
                    via="command",
                    created_by=manager,
                    due_on=date(2025, 1, 1),
                )
            )
            if resolved:
                session.add(PostMortem(incident_id=incident.id, due_on=date(2025, 1, 1)))


def test_stats_command(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot()
    secret = slack.add_channel("inc-1-secret", private=True, members=[workspace.alice])
    _seed(bot, 4, manager=workspace.alice, private_channel=secret)
    driver = bot.driver(slack)
    answer = driver.slash_command("stats 90d", user=workspace.bob, channel=workspace.general)
    body = response_to(slack, answer.response_url)
    text = str(body["blocks"])
    assert body["text"] == "3 incidents in the last 90 days"  # #1 is private
    assert "median 5m, p90 5m (3 incidents)" in text
    assert "median 2h, p90 2h (2 incidents)" in text
    assert "*Time to detect*: no incident was linked to alerts" in text
    # Readiness, from the same incidents: managers acknowledged after 5 minutes (within 5),
    # the two resolved ones' post-mortems are overdue, no action item is closed.
    assert "*Readiness*" in text
    assert "3 of 3 incidents had a manager within 5 minutes (100%)" in text
    assert "0 of 2 post-mortems due were done by their due date (0%)" in text
    assert "0 of 3 action items are closed (0%)" in text
    member = driver.slash_command("stats", user=workspace.alice, channel=workspace.general)
    body = response_to(slack, member.response_url)
    assert body["text"] == "4 incidents in the last 30 days"
    # Acknowledged after 5, 5, 5 and 50 min: median 5 min, p90 at 2.7 -> 5 + 0.7 x 45 = 36.5.
    assert "median 5m, p90 36m (4 incidents)" in str(body["blocks"])
    bad = driver.slash_command("stats 12x", user=workspace.bob, channel=workspace.general)
    assert "Unknown period `12x`" in response_to(slack, bad.response_url)["text"]


def test_app_home_with_500_incidents_stays_within_100_blocks(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot()
    _seed(bot, 500, manager=workspace.carol)
    driver: SlackDriver = bot.driver(slack)
    driver.app_home_opened(workspace.carol)
    call = slack.wait_for("views.publish")
    assert call.response["ok"], call.response
    home = slack.home(workspace.carol)
    assert home is not None
    blocks = home["blocks"]
    assert len(blocks) <= 100
    text = str(blocks)
    assert "*Open incidents* (250)" in text and "…and 235 more" in text
    assert "*My roles* (250)" in text and "…and 240 more" in text
    assert "*My action items* (500)" in text and "…and 490 more" in text
    assert "*Overdue post-mortems* (250)" in text and "…and 240 more" in text
    assert "home_declare" in text and "*Last 30 days*: 500 incidents declared" in text
    assert "Fix &lt;thing&gt;" in text and "Fix <thing>" not in text  # escaped mrkdwn
    assert "*Readiness* (last 30 days)" in text
    assert "0 of 500 action items are closed (0%)" in text and "No status page" in text

    other = bot.driver(slack)
    other.app_home_opened(workspace.bob)  # no roles, no items
    slack.wait_for("views.publish", count=2)
    text = str(slack.home(workspace.bob))
    assert "You hold no role" in text and "No open action items for you." in text


def test_weekly_digest_posts_once(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    # Without DIGEST_SCHEDULE the bot's own tick (on the real clock: on a Monday morning it
    # would post this week's digest too) stays off; the two senders get the schedule.
    bot = start_bot(incident_broadcast_channel=workspace.general)
    assert bot.runtime.scheduler.get_job("insights-digest") is None
    _seed(bot, 6, manager=workspace.alice, all_resolved=True)  # no reminder posts meanwhile
    services = bot.runtime.services
    first, second = DigestSender(services, owner="a"), DigestSender(services, owner="b")
    for sender in (first, second):
        sender.schedule = digest.parse_schedule("mon 09:00", timezone="UTC")
    monday = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert first.tick(monday - timedelta(minutes=1)) is None  # last week's is days late
    slack.fail("chat.postMessage", error="channel_not_found")
    assert first.tick(monday + timedelta(minutes=1)) is None  # failed: released
    key = second.tick(monday + timedelta(minutes=6))
    assert key == "digest:2026-03-02T09:00Z"
    assert first.tick(monday + timedelta(minutes=11)) is None  # posted once already
    posts = [m for m in slack.messages(workspace.general) if "digest" in m.get("text", "")]
    assert len(posts) == 1
    with services.db.read() as session:
        rows = session.exec(select(DigestDelivery)).all()
    assert [(r.key, r.claimed_by, r.message_ts is not None) for r in rows if r.sent_at] == [
        (key, "b", True)
    ]
    assert second.tick(monday + timedelta(days=2)) is None  # more than a day late: skipped


def test_digest_is_off_by_default(bot: RunningBot) -> None:
    assert DigestSender(bot.runtime.services, owner="x").schedule is None
    assert bot.runtime.scheduler.get_job("insights-digest") is None
