"""Each sender's payloads, captured or from its documentation, become the normalized model."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.model import AlertState, MalformedPayload, Source, incident_severity, parse_time
from bot.alerts.parsers import parse_grafana, parse_opsgenie, parse_pagerduty, parse_prometheus
from bot.core.vocabulary import Severity
from tests.alert_fixtures import payload


def test_alertmanager_firing_group() -> None:
    batch = parse_prometheus(payload("alertmanager_firing"))
    assert batch.source is Source.ALERTMANAGER
    assert batch.group_key == '{}:{alertname="HighErrorRate", cluster="prod-eu"}'
    assert batch.title == "Checkout error rate above 5%"
    assert [a.fingerprint for a in batch.alerts] == ["8f8666ca76db22f8", "9e8a2c0bee1f33b3"]
    first = batch.alerts[0]
    assert first.state is AlertState.FIRING
    assert first.severity == "critical"
    assert first.labels["service"] == "checkout"
    assert first.description == "5xx ratio is 7.2% over 5m"
    assert first.links["runbook"] == "https://runbooks.example.com/checkout/errors"
    assert first.links["source"].startswith("http://prometheus.example:9090/graph")
    assert first.starts_at == datetime(2026, 11, 29, 19, 13, 44, 644097, tzinfo=UTC)
    assert first.ends_at is None  # Go's zero time
    assert batch.labels["cluster"] == "prod-eu"


def test_alertmanager_resolves_alert_by_alert() -> None:
    one = parse_prometheus(payload("alertmanager_one_resolved"))
    assert [a.state for a in one.alerts] == [AlertState.RESOLVED, AlertState.FIRING]
    assert one.alerts[0].ends_at == datetime(2026, 11, 29, 19, 13, 50, tzinfo=UTC)
    done = parse_prometheus(payload("alertmanager_resolved"))
    assert [(a.fingerprint, a.state) for a in done.alerts] == [
        ("9e8a2c0bee1f33b3", AlertState.RESOLVED)
    ]


def test_grafana_adds_its_links_and_values() -> None:
    batch = parse_grafana(payload("grafana_firing"))
    assert batch.source is Source.GRAFANA
    assert batch.group_key == "org1/{}:{}"
    assert batch.title == "This alert was triggered for zone us-1"
    first = batch.alerts[0]
    assert first.links["silence"].startswith("https://play.grafana.org/alerting/silence/new")
    assert "dashboard" not in first.links  # empty in the payload
    assert first.annotations["values"] == "B=44.23943737541908, C=1"
    assert first.starts_at == datetime(2021, 10, 12, 7, 51, 3, 157076, tzinfo=UTC)
    resolved = parse_grafana(payload("grafana_resolved"))
    assert {a.state for a in resolved.alerts} == {AlertState.RESOLVED}


def test_pagerduty_incident_lifecycle() -> None:
    triggered = parse_pagerduty(payload("pagerduty_triggered"), "wh-1")
    assert triggered.delivery_id == "wh-1"
    assert triggered.group_key == "PGR0VU2"
    (alert,) = triggered.alerts
    assert alert.state is AlertState.FIRING and alert.title == "A little bump in the road"
    assert alert.severity == "P1"
    assert alert.labels["service"] == "API Service"
    assert alert.links == {"incident": "https://acme.pagerduty.com/incidents/PGR0VU2"}
    acked = parse_pagerduty(payload("pagerduty_acknowledged"), "wh-2").alerts[0]
    assert acked.acknowledged_by == "Tenex Engineer"
    resolved = parse_pagerduty(payload("pagerduty_resolved"), "wh-3").alerts[0]
    assert resolved.state is AlertState.RESOLVED
    assert resolved.ends_at == datetime(2020, 4, 9, 15, 45, 11, 903000, tzinfo=UTC)


def test_pagerduty_events_that_are_not_alerts_are_ignored() -> None:
    batch = parse_pagerduty(payload("pagerduty_service_updated"), "wh-9")
    assert batch.ignored and "service.updated" in batch.ignored
    assert batch.alerts == ()


def test_opsgenie_actions() -> None:
    created = parse_opsgenie(payload("opsgenie_create"))
    (alert,) = created.alerts
    assert alert.fingerprint == "052652ac-5d1c-464a-812a-7dd18bbfba8c"
    assert alert.title == "test alert"
    assert alert.severity == "P1"
    assert alert.annotations == {"host": "db-1", "disk": "/var"}
    assert alert.labels["tags"] == "tag1, tag2"
    assert alert.starts_at == datetime(2015, 1, 5, 10, 3, 11, 104000, tzinfo=UTC)
    assert parse_opsgenie(payload("opsgenie_acknowledge")).alerts[0].acknowledged_by == (
        "fili@ifountain.com"
    )
    assert parse_opsgenie(payload("opsgenie_addnote")).alerts[0].annotations["note"] == (
        "Looking at it"
    )
    closed = parse_opsgenie(payload("opsgenie_close")).alerts[0]
    assert closed.state is AlertState.RESOLVED and closed.ends_at is not None


def _without(data: dict[str, Any], *path: str | int) -> dict[str, Any]:
    copied = copy.deepcopy(data)
    target: Any = copied
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return copied


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ([], "the body must be a JSON object"),
        ({"alerts": "x", "groupKey": "g"}, "alerts must be a list"),
        (_without(payload("alertmanager_firing"), "groupKey"), "groupKey is missing"),
        (
            _without(payload("alertmanager_firing"), "alerts", 1, "fingerprint"),
            "alerts[1].fingerprint is missing",
        ),
        (
            {**payload("alertmanager_firing"), "alerts": [{"fingerprint": "x", "status": "odd"}]},
            "alerts[0].status must be firing or resolved",
        ),
        (
            {
                **payload("alertmanager_firing"),
                "alerts": [{"fingerprint": "x", "status": "firing", "startsAt": "yesterday"}],
            },
            "alerts[0].startsAt is not an RFC 3339 time",
        ),
        (
            {**payload("alertmanager_firing"), "alerts": [{"fingerprint": "x", "labels": []}]},
            "alerts[0].labels must be an object",
        ),
    ],
)
def test_malformed_alertmanager_bodies_say_why(body: Any, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=re.escape(reason)):
        parse_prometheus(body)


def test_malformed_pagerduty_and_opsgenie_bodies_say_why() -> None:
    with pytest.raises(MalformedPayload, match="event must be a JSON object"):
        parse_pagerduty({"messages": []}, None)
    with pytest.raises(MalformedPayload, match=r"event\.data\.id is missing"):
        parse_pagerduty(_without(payload("pagerduty_triggered"), "event", "data", "id"), None)
    with pytest.raises(MalformedPayload, match=r"alert\.alertId is missing"):
        parse_opsgenie(_without(payload("opsgenie_create"), "alert", "alertId"))
    with pytest.raises(MalformedPayload, match="action is missing"):
        parse_opsgenie(_without(payload("opsgenie_create"), "action"))


def test_long_keys_are_hashed_to_fit() -> None:
    body = payload("alertmanager_firing")
    body["groupKey"] = "g" * 500
    assert parse_prometheus(body).group_key.startswith("sha256:")
    assert len(parse_prometheus(body).group_key) <= 128


def test_times_and_severities() -> None:
    assert parse_time("0001-01-01T00:00:00Z", "t") is None
    assert parse_time(1420452191104, "t") == datetime(2015, 1, 5, 10, 3, 11, 104000, tzinfo=UTC)
    assert parse_time("1764442800000", "t") == datetime(2025, 11, 29, 19, 0, tzinfo=UTC)
    assert incident_severity("critical") is Severity.SEV1
    assert incident_severity("P2") is Severity.SEV2
    assert incident_severity("Average") is Severity.SEV3
    assert incident_severity("Not classified") is Severity.SEV4
    assert incident_severity("bananas") is None
