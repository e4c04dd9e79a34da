"""Storing deliveries: deduplication, grouping, resolves, replays, rules; both databases."""

from __future__ import annotations

import copy
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlmodel import col, select

from bot.alerts.intake import IntakeResult, store
from bot.alerts.model import Batch
from bot.alerts.parsers import parse_opsgenie, parse_pagerduty, parse_prometheus
from bot.alerts.rules import AlertRules, load_rules
from storage import Database
from storage.models_alerts import Alert, AlertDelivery, AlertGroup
from tests.alert_fixtures import payload

T0 = datetime(2026, 11, 29, 19, 14, tzinfo=UTC)


def am(name: str) -> Batch:
    return parse_prometheus(payload(name))


def groups(db: Database) -> list[AlertGroup]:
    with db.read() as session:
        return list(session.exec(select(AlertGroup).order_by(col(AlertGroup.id))).all())


def alerts(db: Database) -> list[Alert]:
    with db.read() as session:
        return list(session.exec(select(Alert).order_by(col(Alert.id))).all())


def test_a_group_fires_repeats_and_resolves(db: Database) -> None:
    first = store(db, am("alertmanager_firing"), now=T0)
    assert (first.new, first.repeated, len(first.opened)) == (2, 0, 1)
    (group,) = groups(db)
    assert group.status == "firing" and group.firing_count == 2 and group.alert_count == 2
    assert group.title == "Checkout error rate above 5%"
    assert group.severity == "critical"
    assert group.first_alert_at == datetime(2026, 11, 29, 19, 13, 44, 644097, tzinfo=UTC)
    assert group.open_key == 'alertmanager:{}:{alertname="HighErrorRate", cluster="prod-eu"}'

    again = store(db, am("alertmanager_firing"), now=T0 + timedelta(minutes=1))
    assert (again.new, again.repeated, again.opened) == (0, 2, ())
    assert len(alerts(db)) == 2 and {a.repeat_count for a in alerts(db)} == {1}
    assert groups(db)[0].version == group.version + 1

    partly = store(db, am("alertmanager_one_resolved"), now=T0 + timedelta(minutes=2))
    assert (partly.resolved, partly.repeated) == (1, 1)
    (group,) = groups(db)
    assert group.status == "firing" and group.firing_count == 1
    one, _ = alerts(db)
    assert one.status == "resolved" and one.open_key is None
    assert one.ends_at == datetime(2026, 11, 29, 19, 13, 50, tzinfo=UTC)

    done = store(db, am("alertmanager_resolved"), now=T0 + timedelta(minutes=3))
    assert done.resolved == 1
    (group,) = groups(db)
    assert group.status == "resolved" and group.open_key is None
    assert group.resolved_at == T0 + timedelta(minutes=3)
    assert {a.status for a in alerts(db)} == {"resolved"}


def test_repeats_and_late_deliveries_after_the_resolve_change_nothing(db: Database) -> None:
    for name in ("alertmanager_firing", "alertmanager_one_resolved", "alertmanager_resolved"):
        store(db, am(name), now=T0)
    before = [(g.id, g.version) for g in groups(db)]
    repeat = store(db, am("alertmanager_resolved"), now=T0 + timedelta(minutes=5))
    assert (repeat.duplicate, repeat.groups) == (1, ())
    late = store(db, am("alertmanager_firing"), now=T0 + timedelta(minutes=5))
    assert (late.stale, late.new, late.opened) == (2, 0, ())
    assert [(g.id, g.version) for g in groups(db)] == before
    assert len(alerts(db)) == 2


def test_firing_again_after_the_resolve_opens_a_new_group(db: Database) -> None:
    for name in ("alertmanager_firing", "alertmanager_one_resolved", "alertmanager_resolved"):
        store(db, am(name), now=T0)
    body = payload("alertmanager_firing")
    for alert in body["alerts"]:
        alert["startsAt"] = "2026-11-29T20:00:00Z"
    result = store(db, parse_prometheus(body), now=T0 + timedelta(hours=1))
    assert result.new == 2 and len(result.opened) == 1
    old, new = groups(db)
    assert old.status == "resolved" and new.status == "firing"
    assert old.open_key is None and new.open_key == f"alertmanager:{old.group_key}"
    assert len(alerts(db)) == 4


def test_an_unseen_resolve_is_stored_closed(db: Database) -> None:
    result = store(db, am("alertmanager_resolved"), now=T0)
    assert result.resolved == 1 and len(result.opened) == 1
    (group,) = groups(db)
    assert group.status == "resolved" and group.open_key is None and group.firing_count == 0


def test_pagerduty_replays_are_recorded_once(db: Database) -> None:
    triggered = parse_pagerduty(payload("pagerduty_triggered"), "delivery-1")
    assert store(db, triggered, now=T0).new == 1
    replay = store(db, triggered, now=T0 + timedelta(seconds=30))
    assert replay.replay and replay.as_json() == {"status": "duplicate delivery"}
    assert alerts(db)[0].repeat_count == 0
    acked = store(db, parse_pagerduty(payload("pagerduty_acknowledged"), "delivery-2"), now=T0)
    assert acked.repeated == 1
    (group,) = groups(db)
    assert group.state == "acknowledged"
    assert group.acknowledged_by == "Tenex Engineer (in pagerduty)"
    store(db, parse_pagerduty(payload("pagerduty_resolved"), "delivery-3"), now=T0)
    assert groups(db)[0].status == "resolved"
    ignored = store(db, parse_pagerduty(payload("pagerduty_service_updated"), "delivery-4"))
    assert ignored.ignored and "service.updated" in ignored.ignored
    with db.read() as session:
        assert len(session.exec(select(AlertDelivery)).all()) == 4


def test_opsgenie_create_and_close(db: Database) -> None:
    store(db, parse_opsgenie(payload("opsgenie_create")), now=T0)
    store(db, parse_opsgenie(payload("opsgenie_addnote")), now=T0)
    (alert,) = alerts(db)
    assert alert.annotations == {"note": "Looking at it"} and alert.repeat_count == 1
    store(db, parse_opsgenie(payload("opsgenie_close")), now=T0)
    assert groups(db)[0].status == "resolved"


def test_concurrent_deliveries_of_one_group_make_one_group(db: Database) -> None:
    """Alertmanager pairs in HA both send: eight copies at once store one group, two alerts."""
    batch = am("alertmanager_firing")
    results: list[IntakeResult] = []
    barrier = threading.Barrier(8)

    def deliver() -> None:
        barrier.wait()
        results.append(store(db, copy.deepcopy(batch)))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert len(groups(db)) == 1 and len(alerts(db)) == 2
    assert sum(r.new for r in results) == 2 and sum(r.repeated for r in results) == 14
    assert sum(len(r.opened) for r in results) == 1


def rules_file(tmp_path: Path, text: str) -> AlertRules:
    path = tmp_path / "rules.yml"
    path.write_text(text)
    return load_rules(str(path))


RULES = """
schedules:
  primary:
    timezone: UTC
    handover: monday 09:00
    start: 2026-11-23
    people: [U0ALICE, U0BOB]
policies:
  checkout:
    levels:
      - schedule: primary
        after: 5m
      - users: [U0LEAD]
        after: 10m
rules:
  - name: watchdog
    match: {labels: {alertname: Watchdog}}
    ignore: true
  - name: checkout critical
    match:
      source: alertmanager
      severity: sev1
      labels: {service: checkout, cluster: {regex: "prod-.*"}}
    declare: sev1
    channel: "#checkout-alerts"
    policy: checkout
"""


def test_the_first_matching_rule_decides_when_a_group_opens(db: Database, tmp_path: Path) -> None:
    rules = rules_file(tmp_path, RULES)
    store(db, am("alertmanager_firing"), rules=rules, now=T0)
    (group,) = groups(db)
    assert (group.rule, group.action, group.declare_severity) == (
        "checkout critical",
        "declare",
        "sev1",
    )
    assert (group.channel, group.policy) == ("#checkout-alerts", "checkout")
    assert group.escalation_due_at == T0 + timedelta(minutes=5)
    watchdog = payload("alertmanager_firing")
    watchdog["groupKey"] = '{}:{alertname="Watchdog"}'
    for alert in watchdog["alerts"]:
        alert["labels"]["alertname"] = "Watchdog"
        alert["fingerprint"] += "w"
    store(db, parse_prometheus(watchdog), rules=rules, now=T0)
    ignored = groups(db)[1]
    assert (ignored.state, ignored.action, ignored.escalation_due_at) == ("ignored", "ignore", None)
    store(db, am("alertmanager_resolved"), rules=rules, now=T0)
    store(db, am("alertmanager_one_resolved"), rules=rules, now=T0)
    assert groups(db)[0].status == "resolved" and groups(db)[0].escalation_due_at is None


def test_a_big_group_in_one_delivery(db: Database) -> None:
    """Alertmanager sends the whole group each time: 600 alerts, twice, then half resolved."""
    body = payload("alertmanager_firing")
    template = body["alerts"][0]
    body["alerts"] = [
        {**template, "fingerprint": f"{i:016x}", "labels": {**template["labels"], "n": str(i)}}
        for i in range(600)
    ]
    assert store(db, parse_prometheus(body), now=T0).new == 600
    assert store(db, parse_prometheus(body), now=T0).repeated == 600
    for alert in body["alerts"][:300]:
        alert["status"], alert["endsAt"] = "resolved", "2026-11-29T19:20:00Z"
    result = store(db, parse_prometheus(body), now=T0)
    assert (result.resolved, result.repeated) == (300, 300)
    (group,) = groups(db)
    assert (group.alert_count, group.firing_count, group.status) == (600, 300, "firing")


def test_a_truncated_resolve_closes_the_alerts_left_out(db: Database) -> None:
    """With max_alerts, Alertmanager's final resolve may list only some alerts of the group."""
    store(db, am("alertmanager_firing"), now=T0)
    body = payload("alertmanager_resolved")
    body["truncatedAlerts"] = 1  # the other alert was left out
    result = store(db, parse_prometheus(body), now=T0 + timedelta(minutes=1))
    assert result.resolved == 2
    (group,) = groups(db)
    assert group.status == "resolved" and group.firing_count == 0
    assert {a.status for a in alerts(db)} == {"resolved"}


def test_a_reopened_pagerduty_incident_fires_again(db: Database) -> None:
    store(db, parse_pagerduty(payload("pagerduty_triggered"), "d1"), now=T0)
    store(db, parse_pagerduty(payload("pagerduty_resolved"), "d2"), now=T0)
    reopened = payload("pagerduty_triggered")
    reopened["event"]["event_type"] = "incident.reopened"
    reopened["event"]["occurred_at"] = "2020-04-10T08:00:00Z"
    result = store(db, parse_pagerduty(reopened, "d3"), now=T0)
    assert result.new == 1 and len(result.opened) == 1
    assert [g.status for g in groups(db)] == ["resolved", "firing"]
