"""An alert group's escalation level is claimed and, in the same transaction, planned as
notices: the reply in the triage message's thread, a DM to each person, SMS for `sms: true`
levels (bot.slack.paging.escalate_groups). The sender posts the thread reply once, finding
an earlier attempt in the thread, and links the triage message from the DMs. Both databases
for the planning; the sending against the Slack emulator."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlmodel import select

from bot import incidents
from bot.alerts import triage
from bot.alerts.rules import AlertRules
from bot.core.sending import Retryable
from bot.slack import keyed
from bot.slack.paging import EscalationSender, escalate_groups
from bot.stakeholders import paging
from bot.stakeholders.notice import Notice
from playground.emulator import SlackEmulator
from storage import Database
from storage.models_stakeholders import StakeholderNotice
from tests import alert_fixtures
from tests.alert_fixtures import T0, rules_file
from tests.conftest import Workspace
from tests.harness import BOT_TOKEN

RULES = """\
phones:
  U0LEAD: "+15551234567"
schedules:
  primary:
    timezone: Europe/Paris
    handover: monday 09:00
    start: 2026-11-23
    people: [U0ALICE, U0BOB]
policies:
  checkout:
    levels:
      - schedule: primary
      - users: [U0LEAD, U0CTO]
        after: 10m
        sms: true
rules:
  - name: checkout
    match: {labels: {service: checkout}}
    policy: checkout
"""


class Boom(Exception):
    """Something failing after the claim, in the same transaction."""


@pytest.fixture
def rules(tmp_path: Path) -> AlertRules:
    return rules_file(tmp_path, RULES)


def open_group(db: Database, rules: AlertRules, *, posted: bool = True) -> int:
    group_id = alert_fixtures.open_group(db, rules)
    if posted:
        with db.session() as session:
            triage.shown(session, group_id=group_id, version=1, channel="C0ALERTS", ts="100.000200")
    return group_id


def escalate(db: Database, rules: AlertRules, at: datetime) -> list[int]:
    with db.session() as session:
        return [d.level for d in escalate_groups(session, rules=rules, now=at, planned_at=at)]


def planned(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as session:
        rows = session.exec(select(StakeholderNotice)).all()
    return sorted((r.event, r.channel, r.recipient) for r in rows)


def test_a_claimed_level_plans_its_thread_reply_and_dms_in_the_same_transaction(
    db: Database, rules: AlertRules
) -> None:
    group_id = open_group(db, rules)
    ref = f"alert-group:{group_id}:escalation"
    # The claim and its notices are one transaction: undone together, the level is due again.
    with pytest.raises(Boom), db.session() as session:
        due = escalate_groups(session, rules=rules, now=T0, planned_at=T0)
        assert [d.level for d in due] == [0]
        inside = session.exec(select(StakeholderNotice)).all()
        assert sorted(r.recipient for r in inside) == ["U0BOB", paging.THREAD]
        raise Boom
    assert planned(db) == []
    assert escalate(db, rules, T0) == [0]
    assert escalate(db, rules, T0 + timedelta(minutes=5)) == []  # each level once
    assert planned(db) == [
        (f"{ref}:0", "escalation", "U0BOB"),
        (f"{ref}:0", "escalation", paging.THREAD),
    ]
    assert escalate(db, rules, T0 + timedelta(minutes=10)) == [1]
    assert escalate(db, rules, T0 + timedelta(hours=1)) == []
    assert planned(db)[2:] == [
        (f"{ref}:1", "escalation", "U0CTO"),
        (f"{ref}:1", "escalation", "U0LEAD"),
        (f"{ref}:1", "escalation", paging.THREAD),
        (f"{ref}:1", "sms", "+15551234567"),
    ]
    with db.read() as session:
        rows = session.exec(
            select(StakeholderNotice).where(StakeholderNotice.event == f"{ref}:0")
        ).all()
    for row in rows:
        assert row.incident_id is None
        data = json.loads(row.payload)
        assert (data["alert_channel"], data["alert_ts"]) == ("C0ALERTS", "100.000200")
        assert data["alert_group_id"] == group_id
        assert data["text"].startswith(":rotating_light: Escalation level 1 of 2: <@U0BOB>")


def test_a_group_without_a_message_gets_dms_and_a_drill_pages_nobody(
    db: Database, rules: AlertRules
) -> None:
    group_id = open_group(db, rules, posted=False)
    assert escalate(db, rules, T0) == [0]
    # Claimed before its message was posted: the reply is planned all the same (the sender
    # looks the message up when it sends it).
    assert planned(db) == [
        (f"alert-group:{group_id}:escalation:0", "escalation", "U0BOB"),
        (f"alert-group:{group_id}:escalation:0", "escalation", paging.THREAD),
    ]
    with db.session() as session:
        drill, _ = incidents.declare(
            session,
            drill=True,
            title="Game day",
            severity="sev2",
            declared_by="U0ALICE",
            declare_key="drill",
            now=T0,
        )
        triage.link(
            session,
            group_id=group_id,
            incident_id=drill.id or 0,
            user="U0ALICE",
            now=T0,
            declared=False,
        )
    assert escalate(db, rules, T0 + timedelta(hours=1)) == []
    assert len(planned(db)) == 2


def notice(recipient: str, payload: dict[str, Any], *, attempts: int = 0) -> Notice:
    return Notice(
        id=1,
        key=f"key-{recipient}",
        incident_id=None,
        channel=paging.ESCALATION,
        recipient=recipient,
        trigger="manual",
        event="alert-group:1:escalation:0",
        group="",
        quadrant="",
        payload=payload,
        attempts=attempts,
    )


def test_the_sender_replies_in_the_thread_once_and_links_the_alert_from_dms(
    slack: SlackEmulator, workspace: Workspace
) -> None:
    client = WebClient(base_url=slack.api_url, token=BOT_TOKEN)
    triage_ts = str(client.chat_postMessage(channel=workspace.general, text="alert")["ts"])
    data = {"text": "Escalation level 1 of 2", "alert_channel": workspace.general}
    data["alert_ts"] = triage_ts
    sender = EscalationSender(client)

    reply = notice(paging.THREAD, data)
    first = sender.send(reply)
    [posted] = slack.replies(workspace.general, triage_ts)
    assert (posted["ts"], posted["text"]) == (first, "Escalation level 1 of 2")
    assert keyed.key_of(posted) == reply.key
    # The answer was lost: the retry finds the reply in the thread and posts nothing more.
    assert sender.send(notice(paging.THREAD, data, attempts=1)) == first
    assert len(slack.replies(workspace.general, triage_ts)) == 1
    assert len(slack.messages(workspace.general)) == 1  # nothing in the channel itself

    dm = notice(workspace.bob, data)
    sent = sender.send(dm)
    assert sender.send(notice(workspace.bob, data, attempts=1)) == sent
    [message] = slack.dms(workspace.bob)
    link = str(
        client.chat_getPermalink(channel=workspace.general, message_ts=triage_ts)["permalink"]
    )
    assert message["text"] == f"Escalation level 1 of 2 <{link}|Open the alert>"


def test_a_reply_claimed_before_the_message_was_posted_waits_for_it(
    db: Database, rules: AlertRules, slack: SlackEmulator, workspace: Workspace
) -> None:
    client = WebClient(base_url=slack.api_url, token=BOT_TOKEN)
    group_id = open_group(db, rules, posted=False)
    sender = EscalationSender(client, db)
    reply = notice(paging.THREAD, {"text": "Escalation level 1 of 2", "alert_group_id": group_id})
    with pytest.raises(Retryable, match="not posted yet"):
        sender.send(reply)
    triage_ts = str(client.chat_postMessage(channel=workspace.general, text="alert")["ts"])
    with db.session() as session:
        triage.shown(session, group_id=group_id, version=1, channel=workspace.general, ts=triage_ts)
    sent = sender.send(reply)
    [posted] = slack.replies(workspace.general, triage_ts)
    assert (posted["ts"], posted["text"]) == (sent, "Escalation level 1 of 2")
