"""ALERT_RULES_FILE: reading, every mistake reported with its line, and matching."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.alerts.model import AlertIn, AlertState
from bot.alerts.rules import load_rules
from bot.alerts.yamlfile import FileError
from bot.core.errors import ConfigError
from bot.core.vocabulary import Severity
from bot.settings import load_settings

GOOD = """\
schedules:
  primary:
    timezone: Europe/Paris
    handover: monday 09:00
    start: 2026-01-05
    people: [U0ALICE, U0BOB]
policies:
  payments:
    levels:
      - schedule: primary
      - users: [U0LEAD]
        after: 10m
      - group: S0SRE
        after: 15m
rules:
  - name: silence the watchdog
    match: {labels: {alertname: Watchdog}}
    ignore: true
  - name: payments
    match:
      source: [alertmanager, grafana]
      severity: [critical, sev1]
      labels:
        service: payments
        env: {regex: "prod-.*"}
        tier: [web, api]
    declare: sev1
    policy: payments
  - name: database
    match: {labels: {team: dba}}
    channel: "#dba-alerts"
mappings:
  mytool:
    id: "{check.id}"
    title: "{check.name}"
    state: "{check.status}"
    resolved_when: [up]
"""


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "alert-rules.yml"
    path.write_text(text)
    return str(path)


def alert(labels: dict[str, str], severity: str | None = "critical") -> AlertIn:
    return AlertIn(
        fingerprint="f", state=AlertState.FIRING, title="t", severity=severity, labels=labels
    )


def test_a_good_file(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    assert [rule.name for rule in rules.rules] == ["silence the watchdog", "payments", "database"]
    payments = rules.rules[1]
    assert payments.declare is Severity.SEV1 and payments.action == "declare"
    assert rules.manager_schedule(payments) == "primary"
    assert rules.mapping("mytool") is not None and rules.mapping("nagios") is not None
    labels = {"service": "payments", "env": "prod-eu", "tier": "api"}
    assert rules.decide("alertmanager", alert(labels)) is payments
    assert rules.decide("grafana", alert(labels, "sev1")) is payments
    assert rules.decide("alertmanager", alert(labels, "P1")) is payments  # P1 maps to SEV1
    assert rules.decide("pagerduty", alert(labels)) is None  # another source
    assert rules.decide("alertmanager", alert(labels, "warning")) is None
    assert rules.decide("alertmanager", alert({**labels, "env": "staging-prod-eu"})) is None
    assert rules.decide("alertmanager", alert({**labels, "tier": "batch"})) is None
    assert rules.decide("opsgenie", alert({"alertname": "Watchdog"})).action == "ignore"  # type: ignore[union-attr]
    assert rules.decide("opsgenie", alert({"team": "dba"})).channel == "#dba-alerts"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("rules: [\n", 2, "not valid YAML"),
        ("rules:\n  - name: a\n    match: {}\n    declare: sev9\n", 4, "'sev9' is not a severity"),
        ("rules:\n  - name: a\n    policy: nope\n", 3, "rules[0].policy: no policy named 'nope'"),
        (
            "rules:\n  - name: a\n    match:\n      labels:\n        env: {regex: 'prod('}\n",
            5,
            "rules[0].match.labels.env.regex: not a valid regular expression",
        ),
        ("rules:\n  - name: a\n    match: {}\n", 2, "say what to do"),
        ("rules:\n  - name: a\n    ignore: true\n    channel: '#x'\n", 3, "takes no other action"),
        ("rules:\n  - name: a\n    channel: general\n", 3, "is not a channel id or #name"),
        (
            "rules:\n  - name: a\n    match: {source: nagios}\n    ignore: true\n",
            3,
            "'nagios' is not a source",
        ),
        (
            "rules:\n  - {name: a, ignore: true}\n  - {name: a, ignore: true}\n",
            3,
            "already named 'a'",
        ),
        ("rule:\n  - name: a\n", 1, "rule: unknown key"),
        ("rules:\n  - name: a\n    ignore: true\n    ignore: false\n", 4, "duplicate key"),
        (
            "schedules:\n  s:\n    handover: monday 09:00\n    start: 2026-01-06\n"
            "    people: [U0A1]\n",
            4,
            "2026-01-06 is a Tuesday: start must be a handover day (a Monday)",
        ),
        (
            "schedules:\n  s:\n    handover: someday 9\n    start: 2026-01-05\n"
            "    people: [U0A1]\n",
            3,
            "is not a weekday and a time",
        ),
        (
            "schedules:\n  s:\n    timezone: Mars/Olympus\n    handover: mon 09:00\n"
            "    start: 2026-01-05\n    people: [U0A1]\n",
            3,
            "not an IANA time zone",
        ),
        (
            "schedules:\n  s:\n    handover: mon 09:00\n    start: 2026-01-05\n"
            "    people: [U0A1, alice]\n",
            5,
            "schedules.s.people[1]: 'alice' is not a Slack user id",
        ),
        (
            "schedules:\n  s:\n    handover: mon 09:00\n    start: 2026-01-05\n    people: [U0A1]\n"
            "    overrides:\n"
            "      - {user: U0B2, from: 2026-02-02 09:00, until: 2026-02-01 09:00}\n",
            7,
            "until: must be after from",
        ),
        (
            "policies:\n  p:\n    levels:\n      - users: [U0A1]\n      - group: S0X\n",
            5,
            "after is required",
        ),
        (
            "policies:\n  p:\n    levels:\n      - users: [U0A1]\n        group: S0X\n",
            4,
            "exactly one of",
        ),
        (
            "policies:\n  p:\n    levels:\n      - schedule: nobody\n",
            4,
            "no schedule named 'nobody'",
        ),
        (
            "policies:\n  p:\n    levels:\n      - users: [U0A1]\n        after: soon\n",
            5,
            "not a delay",
        ),
        ("mappings:\n  m:\n    title: '{x}'\n", 2, "mappings.m.id: id: is required"),
        ("mappings:\n  m:\n    id: '{x}'\n    title: '{x'\n", 4, "unbalanced brace"),
    ],
)
def test_mistakes_are_reported_with_their_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(FileError) as caught:
        load_rules(path)
    assert caught.value.line == line, str(caught.value)
    assert reason in str(caught.value)
    assert str(caught.value).startswith(f"{path} line {line}: ")


def test_start_up_stops_on_a_bad_rules_file(tmp_path: Path) -> None:
    path = write(tmp_path, "rules:\n  - name: a\n    declare: sev9\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None, alert_rules_file=path)
    assert f"ALERT_RULES_FILE: Value error, {path} line 3: rules[0].declare" in str(caught.value)
    with pytest.raises(ConfigError, match="cannot be read"):
        load_settings(env_file=None, alert_rules_file=str(tmp_path / "missing.yml"))
    assert (
        load_settings(env_file=None, alert_rules_file=write(tmp_path, "")).alert_rules().rules == ()
    )


def test_credentials_and_channel_settings() -> None:
    with pytest.raises(ConfigError, match="ALERT_WEBHOOK_TOKEN"):
        load_settings(env_file=None, alert_webhook_token="changeme")
    with pytest.raises(ConfigError, match="PAGERDUTY_WEBHOOK_SECRET"):
        load_settings(env_file=None, pagerduty_webhook_secret="0123456789abcdef0123,short")
    with pytest.raises(ConfigError, match="ALERTS_CHANNEL"):
        load_settings(env_file=None, alerts_channel="alerts")
    with pytest.raises(ConfigError, match="GRAFANA_SIGNATURE_HEADER"):
        load_settings(env_file=None, grafana_signature_header="X Signature")
    settings = load_settings(
        env_file=None,
        alerts_channel="#alerts",
        pagerduty_webhook_secret=" 0123456789abcdef0123 , fedcba9876543210fedc ",
    )
    assert settings.pagerduty_webhook_secret == "0123456789abcdef0123,fedcba9876543210fedc"
