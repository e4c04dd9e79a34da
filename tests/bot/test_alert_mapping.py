"""Mapping templates: the syntax, its checks, and the built-in mappings of each tool."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from bot.alerts.mapping import BUILTIN, AlertMapping, MappingError, lookup, render
from bot.alerts.model import AlertState, MalformedPayload, Source
from tests.alert_fixtures import payload


def test_render_paths_fallbacks_lists_and_braces() -> None:
    data = {"a": {"b": [{"c": "deep"}]}, "tags": ["x", "y"], "empty": "", "n": 3, "t": True}
    assert lookup(data, "a.b.0.c") == "deep"
    assert lookup(data, "a.b.5.c") is None
    assert render("{a.b.0.c}/{n}/{t}", data) == "deep/3/true"
    assert render("{empty|missing|tags}", data) == "x, y"
    assert render("{{literal}} {missing}", data) == "{literal} "
    assert render("{a}", data) == ""  # an object has no text


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ({"title": "{t}"}, "id"),
        ({"id": "fixed", "title": "{t}"}, "id"),  # every alert would be the same alert
        ({"id": "{id}", "title": "{t"}, "title"),
        ({"id": "{id}", "title": "{bad path!}"}, "title"),
        ({"id": "{id}", "title": "{t}", "state": "{s}"}, "resolved_when"),
        ({"id": "{id}", "title": "{t}", "colour": "red"}, "colour"),
        ({"id": "{id}", "title": "{t}", "labels": ["a"]}, "labels"),
        ({"id": "{id}", "title": "{t}", "labels": {"host": "{h"}}, "labels.host"),
    ],
)
def test_bad_mappings_name_the_field(spec: dict[str, Any], field: str) -> None:
    with pytest.raises(MappingError) as caught:
        AlertMapping.from_dict("x", spec)
    assert caught.value.field == field


def test_generic_mapping() -> None:
    mapping = BUILTIN["generic"]
    batch = mapping.parse(
        {
            "id": "disk-db1",
            "title": "Disk almost full",
            "severity": "warning",
            "state": "firing",
            "link": "https://grafana.example.com/d/abc",
            "labels": {"host": "db1", "nested": {"x": 1}},
            "started_at": "2026-01-05T10:00:00Z",
        },
        Source.GENERIC,
    )
    (alert,) = batch.alerts
    assert alert.fingerprint == "disk-db1" and alert.state is AlertState.FIRING
    assert alert.labels == {"host": "db1", "state": "firing", "integration": "generic"}
    assert alert.links == {"link": "https://grafana.example.com/d/abc"}
    assert alert.starts_at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert batch.group_key == "generic/disk-db1"
    resolved = mapping.parse({"id": "disk-db1", "title": "x", "status": "RESOLVED"}, Source.GENERIC)
    assert resolved.alerts[0].state is AlertState.RESOLVED
    with pytest.raises(MalformedPayload, match="no alert id"):
        mapping.parse({"title": "x"}, Source.GENERIC)
    with pytest.raises(MalformedPayload, match="no title"):
        mapping.parse({"id": "x"}, Source.GENERIC)


def test_datadog_mapping_links_trigger_and_recovery() -> None:
    mapping = BUILTIN["datadog"]
    fired = mapping.parse(payload("datadog_triggered"), Source.DATADOG)
    recovered = mapping.parse(payload("datadog_recovered"), Source.DATADOG)
    assert fired.alerts[0].fingerprint == recovered.alerts[0].fingerprint == "6843126512876543210"
    assert fired.group_key == recovered.group_key == "datadog/9bd4ac313a4d1e8fae2482df7b77628"
    assert fired.alerts[0].state is AlertState.FIRING
    assert recovered.alerts[0].state is AlertState.RESOLVED
    assert fired.alerts[0].severity == "P2"
    assert fired.alerts[0].labels["scope"] == "host:web-1"
    assert fired.alerts[0].starts_at == datetime(2025, 11, 29, 19, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "firing", "resolved", "fingerprint", "severity"),
    [
        (
            "newrelic",
            {
                "id": "d1b1f3fd-995a-4066-88ab-8ce4f6960654",
                "issueUrl": "https://radar-api.service.newrelic.com/accounts/1/issues/d1b1f3fd",
                "title": "Memory Used % > 90 on 'checkout'",
                "priority": "CRITICAL",
                "state": "ACTIVATED",
                "alertConditionNames": ["Memory high"],
                "createdAt": 1764442800000,
            },
            {"state": "CLOSED"},
            "d1b1f3fd-995a-4066-88ab-8ce4f6960654",
            "CRITICAL",
        ),
        (
            "dynatrace",
            {
                "PID": "-1234567890123456789_V2",
                "ProblemID": "P-123456",
                "ProblemTitle": "High failure rate on payment-service",
                "State": "OPEN",
                "ProblemSeverity": "AVAILABILITY",
                "ProblemURL": "https://abc.live.dynatrace.com/#problems/problemdetail;pid=-1",
                "Tags": "env:prod",
            },
            {"State": "RESOLVED"},
            "-1234567890123456789_V2",
            "critical",
        ),
        (
            "zabbix",
            {
                "event_id": "4821",
                "trigger_id": "17055",
                "event_name": "High CPU utilization on web-1",
                "event_value": "1",
                "severity": "High",
                "host": "web-1",
                "url": "https://zabbix.example.com/tr_events.php?triggerid=17055&eventid=4821",
            },
            {"event_value": "0"},
            "4821",
            "High",
        ),
        (
            "nagios",
            {
                "host": "web-1",
                "service": "HTTP",
                "state": "CRITICAL",
                "type": "PROBLEM",
                "output": "connection refused",
            },
            {"type": "RECOVERY", "state": "OK"},
            "web-1/HTTP",
            "CRITICAL",
        ),
        (
            "xmatters",
            {
                "event_id": "8200612",
                "title": "Checkout down",
                "status": "ACTIVE",
                "priority": "HIGH",
                "url": "https://acme.xmatters.com/xmatters/reports/tracking-report.do?id=8200612",
            },
            {"status": "TERMINATED"},
            "8200612",
            "HIGH",
        ),
    ],
)
def test_builtin_tool_mappings(
    name: str, firing: dict[str, Any], resolved: dict[str, Any], fingerprint: str, severity: str
) -> None:
    mapping = BUILTIN[name]
    fired = mapping.parse(firing, Source.GENERIC).alerts[0]
    done = mapping.parse({**firing, **resolved}, Source.GENERIC).alerts[0]
    assert fired.fingerprint == done.fingerprint == fingerprint
    assert fired.state is AlertState.FIRING and done.state is AlertState.RESOLVED
    assert fired.severity == severity
    assert fired.title and fired.labels["integration"] == name


def test_the_readme_ships_the_builtin_mappings() -> None:
    """The mappings the README gives are exactly the built-in ones (and they load)."""
    import re
    from pathlib import Path

    import yaml

    from bot.alerts.mapping import BUILTIN_SPECS

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    marker = readme.index("<!-- alert-mappings:")
    block = re.search(r"```yaml\n(.*?)```", readme[marker:], re.DOTALL)
    assert block is not None
    shipped = yaml.safe_load(block.group(1))["mappings"]
    assert set(shipped) == set(BUILTIN_SPECS) >= {
        "datadog", "newrelic", "dynatrace", "zabbix", "nagios", "xmatters"
    }  # fmt: skip
    for name, spec in shipped.items():
        assert AlertMapping.from_dict(name, spec) == BUILTIN[name], name
