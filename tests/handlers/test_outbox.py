"""Deliveries through Slack: a permanent failure shown to admins and retried by hand, and one
outbox row claimed by two replicas, delivered once."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import Session, col, select

from bot import incidents
from bot.core import delivery
from bot.core.events import Event
from bot.core.vocabulary import Status
from bot.slack import subscribers
from bot.slack.keyed import key_of
from bot.slack.outbox import Outbox
from bot.slack.services import Services
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_outbox import OutboxDelivery
from storage.types import utcnow
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN, RunningBot, bot_settings, response_to
from tests.scenarios import declare, must, open_declare_form, submit_declare, wait_for_setup

pytestmark = pytest.mark.scenario


def undelivered(bot: RunningBot) -> list[OutboxDelivery]:
    with bot.runtime.services.db.read() as session:
        query = select(OutboxDelivery).where(col(OutboxDelivery.delivered_at).is_(None))
        return list(session.exec(query).all())


def test_a_permanently_failing_delivery_is_shown_not_retried_and_retried_by_hand(
    start_bot: Any, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(incident_admins=workspace.carol)
    driver = bot.driver(slack)
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = must(incident.channel_id)
    slack.fail("chat.postMessage", error="is_archived")  # the status notice
    driver.slash_command("status identified", user=workspace.alice, channel=channel)
    slack.wait_for(
        lambda: [r.due_at for r in undelivered(bot)] == [None], timeout=10
    )  # given up; every other delivery of the change done
    [failed] = undelivered(bot)
    assert (failed.subscriber, failed.event_kind) == ("notices", "status_changed")
    assert failed.last_error == "gave up: Slack answered `is_archived`"

    result = driver.slash_command(
        "admin deliveries", user=workspace.carol, channel=workspace.random
    )
    body = response_to(slack, result.response_url)
    assert body["response_type"] == "ephemeral"
    text = str(body["blocks"])
    assert "1 given up" in text and "Given up after 1 attempt" in text
    assert "`notices` of `status_changed`" in text and "is_archived" in text
    assert "Database is down" in text
    [button] = [b["accessory"] for b in body["blocks"] if b.get("accessory")]
    assert button["action_id"] == "outbox_retry_delivery" and button["value"] == str(failed.id)

    posts = len(slack.calls_to("chat.postMessage"))
    time.sleep(3)  # longer than the first back-off: a transient failure would be tried again
    assert len(slack.calls_to("chat.postMessage")) == posts
    assert [r.id for r in undelivered(bot)] == [failed.id]

    responses = len(slack.responses)
    driver.block_actions(
        "outbox_retry_delivery",
        user=workspace.carol,
        message=body,
        channel=workspace.random,
        value=str(failed.id),
        ephemeral=True,
    )
    slack.wait_for(lambda: undelivered(bot) == [], timeout=10)
    notices = [m for m in slack.messages(channel) if "changed the status" in m.get("text", "")]
    assert len(notices) == 1
    slack.wait_for(lambda: len(slack.responses) > responses)
    after = slack.responses[-1]["body"]
    assert after.get("replace_original") is True
    assert "Retrying `notices`" in str(after["blocks"])


def test_admin_deliveries_hides_private_titles_and_refuses_unknown_subcommands(
    start_bot: Any, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(incident_admins=workspace.bob)
    driver = bot.driver(slack)
    slack.fail("conversations.create", error="restricted_action")
    declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Secret <b>breach</b>",
        private=True,
    )
    result = driver.slash_command("admin deliveries", user=workspace.bob, channel=workspace.general)
    text = str(response_to(slack, result.response_url)["blocks"])
    assert "#1 (private incident)" in text and "Secret" not in text
    assert "restricted_action" in text and "Pending" in text  # the steps behind the channel
    result = driver.slash_command("admin stuff", user=workspace.bob, channel=workspace.general)
    body = response_to(slack, result.response_url)
    assert "Unknown admin command `stuff`" in body["text"]


def test_only_incident_admins_see_deliveries_once_there_are_admins(
    start_bot: Any, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(incident_admins=workspace.bob)
    driver = bot.driver(slack)
    result = driver.slash_command(
        "admin deliveries", user=workspace.alice, channel=workspace.general
    )
    refused = response_to(slack, result.response_url)["text"]
    assert "only an incident admin (INCIDENT_ADMINS) can" in refused
    result = driver.slash_command("admin deliveries", user=workspace.bob, channel=workspace.general)
    assert "Deliveries: 0 given up, 0 pending." in response_to(slack, result.response_url)["text"]


# -- two replicas, one row ------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset


def replica(slack: SlackEmulator, db: Database, owner: str, clock: Clock) -> Services:
    """A replica without a server: its own subscriptions and outbox, on the shared database."""
    settings = bot_settings(slack, db.url)
    services = Services(
        settings=settings, db=db, slack=WebClient(BOT_TOKEN, base_url=slack.api_url)
    )
    services.outbox = Outbox(services, owner=owner, clock=clock)
    subscribers.install(services)
    return services


def set_status(services: Services, incident_id: int, status: Status) -> Event:
    return services.apply(
        lambda s: incidents.set_status(
            s, incident=incidents.get(s, incident_id=incident_id), status=status, actor="U1"
        )
    )


def test_one_row_claimed_by_two_replicas_is_delivered_once(
    slack: SlackEmulator, workspace: Workspace, db: Database
) -> None:
    clock_a, clock_b = Clock(), Clock()
    a = replica(slack, db, "replica-a", clock_a)
    b = replica(slack, db, "replica-b", clock_b)

    def operation(session: Session) -> Any:
        return incidents.declare(
            session,
            title="Checkout is down",
            severity="sev2",
            declared_by=workspace.alice,
            declare_key=uuid.uuid4().hex,
            manager=workspace.bob,
        )[1]

    incident_id = a.apply(operation).incident_id
    a.outbox.drain()  # the setup, through the emulator
    set_status(a, incident_id, Status.IDENTIFIED)
    with db.read() as session:
        notice = session.exec(
            select(OutboxDelivery).where(OutboxDelivery.subscriber == "notices")
        ).one()

    # replica-a claims the notice and posts it; then it stalls before recording it.
    [claimed] = [c for c in a.outbox.runner.claim() if c.row_id == notice.id]
    with db.session() as session:
        job = delivery.prepare(session, a.outbox.source, claimed, owner="replica-a", now=clock_a())
    assert job is not None
    assert isinstance(a.outbox.send(job, clock_a, lambda: True), delivery.Receipt)

    # replica-b, once the lease ran out, claims the same row: it finds the notice, posts none.
    clock_b.offset = a.outbox.policy.lease + timedelta(seconds=1)
    posts = len(slack.calls_to("chat.postMessage"))
    b.outbox.drain()
    assert len(slack.calls_to("chat.postMessage")) == posts  # looked it up instead
    with db.session() as session:  # replica-a wakes up: the row is not its own any more
        receipt = delivery.Receipt(clock_a(), "notices", None)
        assert not delivery.record_sent(
            session, a.outbox.source, job, receipt, owner="replica-a", now=clock_a()
        )
    with db.read() as session:
        row = session.get(OutboxDelivery, notice.id)
    assert row is not None and row.delivered_by == "replica-b" and row.due_at is None
    channel = incident_channel(db, incident_id)
    notices = [m for m in slack.messages(channel) if "changed the status" in m.get("text", "")]
    assert len(notices) == 1 and key_of(notices[0]) == notice.key

    # Both claim at the same moment: each due row goes to one of them.
    for status in (Status.MONITORING, Status.INVESTIGATING, Status.IDENTIFIED):
        set_status(a, incident_id, status)
    clock_a.offset = clock_b.offset
    barrier = threading.Barrier(2)
    claims: dict[str, set[int]] = {}

    def claim(services: Services, name: str) -> None:
        barrier.wait()
        claims[name] = {c.row_id for c in services.outbox.runner.claim()}

    threads = [threading.Thread(target=claim, args=pair) for pair in ((a, "a"), (b, "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert claims["a"] | claims["b"] and not claims["a"] & claims["b"]


def incident_channel(db: Database, incident_id: int) -> str:
    with db.read() as session:
        return must(incidents.get(session, incident_id=incident_id).channel_id)


def test_a_channel_made_by_an_attempt_whose_answer_was_lost_is_taken_over(
    start_bot: Any, slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(reminder_lease_seconds=5)  # Slack calls time out after 1 s
    driver = bot.driver(slack)
    slack.set_latency(1.5, "conversations.create")  # made, but the answer comes too late
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    submit_declare(driver, view, user=workspace.alice, title="Database is down")
    slack.wait_for(lambda: slack.channel_by_name("inc-1-database-is-down"), timeout=10)
    slack.set_latency(0, "conversations.create")
    incident = wait_for_setup(bot, timeout=20)
    assert incident.setup_state == "complete"
    made = slack.channel_by_name("inc-1-database-is-down")
    assert made is not None and incident.channel_id == made["id"]
    creates = [c.response.get("error") for c in slack.calls_to("conversations.create")]
    assert creates[-1] == "name_taken"  # the retry found the name taken: by its own channel
    with slack.ws.lock:
        names = [c.name for c in slack.ws.channels.values() if c.name.startswith("inc-1")]
    assert names == ["inc-1-database-is-down"]
    assert slack.pins(made["id"]) and workspace.alice in slack.members(made["id"])
