"""The notices source of the delivery engine end to end: planned rows leased, sent over SMTP,
SMS, Slack and webhooks exactly once, retried, given up and shown (both databases)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import col, select

from bot import incidents
from bot.core import delivery
from bot.settings import load_settings
from bot.slack.notice_sender import NoticeRunner
from bot.slack.operations import declare_incident
from bot.slack.services import Services
from bot.stakeholders import actions, claims
from bot.stakeholders.claims import NoticeConfig, NoticeSource
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_stakeholders import StakeholderNotice
from tests.conftest import Workspace
from tests.fake_providers import TWILIO_SID, TWILIO_TOKEN, FakeProviders
from tests.harness import BOT_TOKEN
from tests.smtp_server import SmtpServer
from tests.webhook_receiver import WebhookReceiver

T0 = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
HOOK_SECRET = "webhook-secret-0123456789"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class World:
    services: Services
    smtp: SmtpServer
    fakes: FakeProviders
    hooks: WebhookReceiver
    slack: SlackEmulator
    people: Workspace
    product: str
    clock: Clock

    def ticker(self, owner: str = "replica-a") -> NoticeRunner:
        return NoticeRunner(self.services, owner=owner, clock=self.clock)

    def notices(self) -> list[StakeholderNotice]:
        with self.services.db.read() as session:
            return list(
                session.exec(select(StakeholderNotice).order_by(col(StakeholderNotice.id))).all()
            )

    def declare(self, title: str, severity: str = "sev1", key: str | None = None) -> int:
        incident, created = declare_incident(
            self.services,
            title=title,
            severity=severity,
            declared_by=self.people.alice,
            declare_key=key or title,
            impact="Card payments fail",
            now=self.clock.now,
        )
        assert incident.id is not None and created
        channel = self.slack.add_channel(f"inc-{incident.number}", members=[self.people.alice])
        with self.services.db.session() as session:
            row = incidents.get(session, incident_id=incident.id)
            row.channel_id = channel
            session.add(row)
        return incident.id

    def mails_to(self, address: str) -> list[Any]:
        return [m.message for m in self.smtp.messages if m.recipients == [address]]


def stakeholders_file(tmp_path: Path, people: Workspace, product: str) -> Path:
    path = tmp_path / "stakeholders.yml"
    path.write_text(
        f"""
groups:
  - name: Management
    quadrant: keep_satisfied
    severities: [sev1, sev2]
    members:
      - {{slack: {people.bob}, email: cto@acme.example}}
  - name: Product team
    quadrant: manage_closely
    members:
      - slack_group: {product}
      - {{email: pm@acme.example, phone: "+15551230000"}}
  - name: Customers
    quadrant: keep_informed
    members:
      - email: ops@customer.example
"""
    )
    return path


@pytest.fixture
def world(
    db: Database, slack: SlackEmulator, workspace: Workspace, tmp_path: Path
) -> Iterator[World]:
    product = slack.add_usergroup("product", [workspace.alice, workspace.carol])
    hooks_file = tmp_path / "webhooks.yml"
    with (
        SmtpServer(tmp_path) as smtp,
        FakeProviders() as fakes,
        WebhookReceiver(HOOK_SECRET) as hooks,
    ):
        hooks_file.write_text(f"webhooks:\n  - url: {hooks.url}\n    secret: {HOOK_SECRET}\n")
        settings = load_settings(
            env_file=None,
            **smtp.settings(),
            stakeholders_file=str(stakeholders_file(tmp_path, workspace, product)),
            webhooks_file=str(hooks_file),
            status_page_url="https://status.acme.example",
            sms_provider="twilio",
            twilio_account_sid=TWILIO_SID,
            twilio_auth_token=TWILIO_TOKEN,
            twilio_from="+15550001111",
            twilio_api_url=fakes.url,
        )
        client = WebClient(token=BOT_TOKEN, base_url=slack.api_url)
        services = Services(settings=settings, db=db, slack=client)  # plans from the settings
        yield World(services, smtp, fakes, hooks, slack, workspace, product, Clock())


def test_a_sev1_declaration_reaches_every_recipient_once(world: World) -> None:
    incident_id = world.declare("Checkout is down")
    ticker = world.ticker()
    groups = [n for n in world.notices() if n.recipient == world.product]
    assert len(groups) == 2  # the product user group, for the DM and the invite
    first = ticker.tick()
    assert first == Counter({"sent": len(world.notices()) - 4})  # the groups were expanded
    assert ticker.tick() == Counter({"sent": 4})  # their members' DMs and invites
    assert ticker.tick() == Counter()  # nothing left
    people = world.people
    for address in ("cto@acme.example", "pm@acme.example", "ops@customer.example"):
        [mail] = world.mails_to(address)
        text = mail.get_body(("plain",)).get_content()
        assert "https://status.acme.example" in text and "Checkout is down" in text
    [sms] = world.fakes.texts
    assert sms["to"] == "+15551230000" and sms["body"].endswith("https://status.acme.example")
    for user in (people.bob, people.alice, people.carol):
        assert len(world.slack.dms(user)) == 1
    assert world.notices()[0].incident_id == incident_id
    with world.services.db.read() as session:
        channel_id = incidents.get(session, incident_id=incident_id).channel_id
    assert channel_id is not None
    members = world.slack.members(channel_id)
    assert {people.alice, people.carol} <= set(members)
    [delivery] = world.hooks.deliveries
    assert delivery.event == "incident.declared" and world.hooks.refused == []
    assert {n.state for n in world.notices()} == {"sent"}
    mail_row = next(n for n in world.notices() if n.recipient == "cto@acme.example")
    assert mail_row.provider_ref == world.mails_to("cto@acme.example")[0]["Message-ID"]


def test_a_sev4_skips_the_sev1_sev2_group_and_resolving_mails_again(world: World) -> None:
    incident_id = world.declare("Search is slow", severity="sev4")
    world.ticker().tick()
    assert world.mails_to("cto@acme.example") == []
    assert len(world.mails_to("pm@acme.example")) == 1
    event = world.services.apply(
        lambda s: incidents.resolve(
            s,
            incident=incidents.get(s, incident_id=incident_id),
            actor=world.people.alice,
            resolution="Index rebuilt",
            now=world.clock.now,
        )
    )
    assert event is not None
    world.ticker().tick()
    declared, resolved = world.mails_to("pm@acme.example")
    assert "resolved" in resolved["Subject"]
    assert resolved["In-Reply-To"] == declared["Message-ID"]
    assert len(world.mails_to("ops@customer.example")) == 2
    assert world.mails_to("cto@acme.example") == []


def test_two_replicas_send_each_notice_once(world: World) -> None:
    for n in range(4):
        world.declare(f"Outage {n}")
    tickers = [world.ticker("replica-a"), world.ticker("replica-b")]
    outcomes: list[Counter[str]] = []
    start = threading.Barrier(2)

    def run(ticker: NoticeRunner) -> None:
        start.wait()
        for _ in range(3):
            outcomes.append(ticker.tick())

    threads = [threading.Thread(target=run, args=(t,)) for t in tickers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ids = Counter(m.message["Message-ID"] for m in world.smtp.messages)
    assert ids and max(ids.values()) == 1
    assert len(world.mails_to("cto@acme.example")) == 4
    assert len(world.fakes.texts) == 4
    assert len(world.slack.dms(world.people.alice)) == 4
    assert len(world.hooks.deliveries) == 4 and world.hooks.duplicates == 0
    assert {n.state for n in world.notices()} == {"sent"}
    total = Counter(o for counter in outcomes for o in counter.elements())
    assert total["sent"] == len(world.notices())  # each row sent (or expanded) once


def test_failures_are_retried_and_shown_and_refusals_given_up(world: World) -> None:
    incident_id = world.declare("Mail relay trouble", severity="sev3")
    world.smtp.handler.fail_with = "451 4.3.0 Try again later"
    ticker = world.ticker()
    assert ticker.tick()["failed"] == 2  # pm@ and ops@ (sev3: not the management group)
    row = next(n for n in world.notices() if n.recipient == "pm@acme.example")
    assert (row.state, row.attempts) == ("pending", 1) and "451" in (row.last_error or "")
    assert row.due_at is not None and row.due_at > world.clock.now
    assert ticker.tick()["failed"] == 0  # not before the back-off
    world.clock.now += timedelta(seconds=3)
    assert ticker.tick()["failed"] == 2
    with world.services.db.read() as session:
        shown = {c.recipient: c for c in actions.comms(session, incident_id=incident_id)}
    retrying = shown["pm@acme.example"]
    assert retrying.state == "retrying" and retrying.attempts == 2
    assert "451" in (retrying.last_error or "")
    world.smtp.handler.fail_with = "550 5.1.1 No such user"  # now a refusal: given up
    world.clock.now += timedelta(seconds=5)
    assert ticker.tick()["gave_up"] == 2
    world.clock.now += timedelta(minutes=10)
    assert ticker.tick() == Counter()  # given up: not retried on its own
    with world.services.db.read() as session:
        shown = {c.recipient: c for c in actions.comms(session, incident_id=incident_id)}
    failed = [c for c in shown.values() if c.state == "failed"]
    assert {c.recipient for c in failed} == {"pm@acme.example", "ops@customer.example"}
    assert all("550" in (c.last_error or "") for c in failed)
    world.smtp.handler.fail_with = None
    with world.services.db.session() as session:
        assert claims.retry_failed(session, incident_id=incident_id, now=world.clock.now) == 2
    assert ticker.tick()["sent"] == 2
    assert len(world.mails_to("pm@acme.example")) == 1


def test_a_permanent_refusal_is_shown_at_once(world: World) -> None:
    world.declare("Bad number")
    world.fakes.fail("twilio", 400)
    assert world.ticker().tick()["gave_up"] == 1
    [sms] = [n for n in world.notices() if n.channel == "sms"]
    assert claims.is_given_up(sms) and "21211" in (sms.last_error or "")


def test_429_and_500_from_the_sms_provider_are_retried(world: World) -> None:
    world.declare("Provider flaky")
    world.fakes.fail("twilio", 429, headers={"Retry-After": "4"})
    ticker = world.ticker()
    ticker.tick()
    [sms] = [n for n in world.notices() if n.channel == "sms"]
    assert sms.state == "pending" and sms.due_at == world.clock.now + timedelta(seconds=4)
    world.fakes.fail("twilio", 500)
    world.clock.now += timedelta(seconds=4)
    ticker.tick()
    world.clock.now += timedelta(seconds=10)
    ticker.tick()
    [sms] = [n for n in world.notices() if n.channel == "sms"]
    assert sms.state == "sent"
    assert [c.status for c in world.fakes.calls_to("twilio")] == [429, 500, 201]
    assert len(world.fakes.texts) == 1


def _die_mid_send(world: World, owner: str, channel: str) -> list[int]:
    """A replica leases the due notices, starts each attempt, sends the `channel` ones, dies."""
    dead = NoticeRunner(world.services, owner=owner, clock=world.clock)
    source = NoticeSource(NoticeConfig(lease=dead.lease))
    db = world.services.db
    with db.session() as session:
        leased = delivery.claim(session, source, owner=owner, now=world.clock.now)
    started = []
    for claimed in leased:
        with db.session() as session:
            job = delivery.prepare(session, source, claimed, owner=owner, now=world.clock.now)
        assert job is not None
        if job.item.channel == channel:
            started.append(job.item.id)
            if channel == "slack":
                dead.slack.send(dead.send.readable(job.item))
    return started


def test_a_replica_that_died_mid_send_is_taken_over_without_a_second_message(
    world: World,
) -> None:
    world.declare("Crash test")
    world.ticker("replica-a").tick()  # expands the user group; the members' rows are new
    assert len(_die_mid_send(world, "replica-dead", "slack")) == 2  # alice's and carol's DMs
    assert world.ticker("replica-b").tick() == Counter()  # the leases still hold
    world.clock.now += timedelta(seconds=world.services.settings.notice_lease_seconds + 1)
    outcome = world.ticker("replica-b").tick()
    assert outcome["sent"] == 4  # the DMs looked for first and found; the invites made
    assert len(world.slack.dms(world.people.alice)) == 1
    assert len(world.slack.dms(world.people.carol)) == 1


def test_a_dead_replica_s_sms_is_not_sent_twice(world: World) -> None:
    world.declare("SMS crash")
    [sms_id] = _die_mid_send(world, "dead", "sms")  # the request may have reached Twilio
    world.clock.now += timedelta(seconds=world.services.settings.notice_lease_seconds + 1)
    world.ticker("replica-b").tick()
    [sms] = [n for n in world.notices() if n.id == sms_id]
    assert claims.is_given_up(sms) and "may have been sent" in (sms.last_error or "")
    assert world.fakes.texts == []


def test_payload_names_and_markup_are_made_readable(world: World) -> None:
    incident_id = world.declare("Names")
    world.ticker().tick()
    event = world.services.apply(
        lambda s: incidents.post_update(
            s,
            incident=incidents.get(s, incident_id=incident_id),
            author=world.people.alice,
            message=f"Handing over to <@{world.people.bob}> &amp; rolling back",
            now=world.clock.now,
        )
    )
    assert event is not None
    world.ticker().tick()
    [_, update] = world.mails_to("pm@acme.example")
    text = update.get_body(("plain",)).get_content()
    assert "Handing over to @Bob Baker & rolling back" in text
    assert "Incident manager: Alice Archer" in text
    row = next(n for n in world.notices() if n.trigger == "update" and n.channel == "email")
    assert json.loads(row.payload)["message"].startswith("Handing over to <@")
