"""STAKEHOLDERS_FILE and WEBHOOKS_FILE: parsing, defaults, filters, and errors with lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError, InvalidInput
from bot.core.vocabulary import Severity
from bot.settings import load_settings
from bot.stakeholders import config, webhooks
from bot.stakeholders.config import DEFAULT_RULES, Quadrant, Trigger, Via

ROOT = Path(__file__).resolve().parents[2]
MEMBERS = "groups:\n  - name: A\n    quadrant: monitor\n    members:\n"


def _write(tmp_path: Path, text: str, name: str = "stakeholders.yml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(ConfigError) as failure:
        config.load(_write(tmp_path, text))
    return str(failure.value)


def test_the_example_file_has_the_six_typical_groups() -> None:
    directory = config.load(ROOT / "stakeholders.example.yml")
    assert [g.name for g in directory.groups] == [
        "Management",
        "Product team",
        "Customers",
        "Developers",
        "Support analysts",
        "Everyone else",
    ]
    management = directory.group("management")
    assert management.quadrant is Quadrant.KEEP_SATISFIED
    assert management.severities == {Severity.SEV1, Severity.SEV2}
    assert management.addresses(Via.EMAIL) == ["cto@acme.example", "vp-engineering@acme.example"]
    product = directory.group("Product-Team")
    assert product.addresses(Via.SMS) == ["+15551230000"]
    assert product.addresses(Via.SLACK) == ["S0PRODUCT1"]
    assert directory.group("everyone else").rules == ()


def test_the_example_webhooks_file_loads() -> None:
    hooks = webhooks.load(ROOT / "webhooks.example.yml")
    assert hooks[0].url == "https://hooks.acme.example/incidents"
    assert hooks[0].events == {Trigger.DECLARED, Trigger.SEVERITY_CHANGED, Trigger.RESOLVED}
    assert hooks[1].events == config.EVENT_TRIGGERS
    assert "secret" not in repr(hooks[0]).lower() or hooks[0].secret not in repr(hooks[0])


def test_quadrant_defaults() -> None:
    closely = config.Group("G", Quadrant.MANAGE_CLOSELY, (), DEFAULT_RULES[Quadrant.MANAGE_CLOSELY])
    assert closely.vias(Trigger.DECLARED, Severity.SEV1) == [
        Via.INVITE,
        Via.SLACK,
        Via.EMAIL,
        Via.SMS,
    ]
    assert closely.vias(Trigger.DECLARED, Severity.SEV2) == [Via.INVITE, Via.SLACK, Via.EMAIL]
    assert closely.vias(Trigger.UPDATE, Severity.SEV3) == [Via.SLACK, Via.EMAIL]
    satisfied = config.Group(
        "G", Quadrant.KEEP_SATISFIED, (), DEFAULT_RULES[Quadrant.KEEP_SATISFIED]
    )
    assert satisfied.vias(Trigger.SEVERITY_CHANGED, Severity.SEV2) == [Via.SLACK, Via.EMAIL]
    assert satisfied.vias(Trigger.UPDATE, Severity.SEV1) == []
    informed = config.Group("G", Quadrant.KEEP_INFORMED, (), DEFAULT_RULES[Quadrant.KEEP_INFORMED])
    assert informed.vias(Trigger.DECLARED, Severity.SEV4) == [Via.EMAIL]
    assert informed.vias(Trigger.SEVERITY_CHANGED, Severity.SEV1) == []
    monitor = config.Group("G", Quadrant.MONITOR, (), DEFAULT_RULES[Quadrant.MONITOR])
    assert all(monitor.vias(t, Severity.SEV1) == [] for t in Trigger)
    assert monitor.manual_vias() == [Via.SLACK, Via.EMAIL]


def test_notify_replaces_the_default(tmp_path: Path) -> None:
    directory = config.load(
        _write(
            tmp_path,
            """
groups:
  - name: Execs
    quadrant: keep_satisfied
    notify:
      - via: sms
        on: [declared]
        severities: [1]
    members:
      - phone: +1 (555) 123-0000
""",
        )
    )
    [group] = directory.groups
    assert group.custom_rules
    assert group.vias(Trigger.DECLARED, Severity.SEV1) == [Via.SMS]
    assert group.vias(Trigger.DECLARED, Severity.SEV2) == []
    assert group.vias(Trigger.RESOLVED, Severity.SEV1) == []
    assert group.addresses(Via.SMS) == ["+15551230000"]  # unquoted, spaced: still E.164


def test_filters_by_severity_and_component() -> None:
    group = config.Group(
        "G",
        Quadrant.KEEP_INFORMED,
        (),
        (),
        severities=frozenset({Severity.SEV1}),
        components=frozenset({"API"}),
    )
    assert group.concerns(Severity.SEV1, frozenset({"api", "Web"}))
    assert not group.concerns(Severity.SEV1, frozenset({"Web"}))
    assert not group.concerns(Severity.SEV2, frozenset({"API"}))
    assert group.concerns(Severity.SEV1, frozenset())  # unknown components: may be any


def test_group_lookup_by_command_text() -> None:
    directory = config.load(ROOT / "stakeholders.example.yml")
    group, rest = directory.split_group("support analysts DB is back, please tell callers")
    assert group.name == "Support analysts" and rest == "DB is back, please tell callers"
    group, rest = directory.split_group("product-team")
    assert group.name == "Product team" and rest == ""
    with pytest.raises(InvalidInput, match="no stakeholder group `finance`"):
        directory.split_group("finance hello")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        (
            "groups:\n  - name: A\n    quadrant: sideways\n    members: [{email: a@b.example}]\n",
            3,
            "`sideways` is not a quadrant",
        ),
        (
            MEMBERS + '      - phone: "555-1234"\n',
            5,
            "not an E.164 phone number",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    members:\n      - email: cto@\n",
            5,
            "not an e-mail address",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    members:\n      - slack: alice\n",
            5,
            "not a Slack user id",
        ),
        (
            MEMBERS + "      - slack_group: U1234\n",
            5,
            "not a Slack user group id",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    colour: red\n    members: []\n",
            4,
            "unknown key `colour`",
        ),
        ("groups:\n  - name: A\n    quadrant: monitor\n    members: []\n", 4, "is empty"),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    severities: [sev9]\n"
            "    members: [{email: a@b.example}]\n",
            4,
            "Unknown severity sev9",
        ),
        (
            "groups:\n  - quadrant: monitor\n    members: [{email: a@b.example}]\n",
            2,
            "a group needs `name`",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    members: [{email: a@b.example}]\n"
            "  - name: a\n    quadrant: monitor\n    members: [{email: a@b.example}]\n",
            5,
            "named twice (line 2)",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    notify:\n      - via: pigeon\n"
            "    members: [{email: a@b.example}]\n",
            5,
            "`pigeon` is not a channel",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    notify:\n      - via: sms\n"
            "        on: [lunch]\n    members: [{email: a@b.example}]\n",
            6,
            "`lunch` is not an incident event",
        ),
        (
            "groups:\n  - name: A\n    quadrant: monitor\n    members:\n"
            "      - {slack_group: S0ABC, email: a@b.example}\n",
            5,
            "a member on its own",
        ),
        ("groups:\n  - name: A\n  quadrant: monitor\n", 3, "not valid YAML"),
        ("", 1, "the file is empty"),
        ("people: []\n", 1, "unknown key `people`"),
    ],
)
def test_a_bad_file_names_the_line_and_the_reason(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    message = _error(tmp_path, text)
    assert message.startswith("STAKEHOLDERS_FILE ")
    assert f"line {line}:" in message
    assert reason in message


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="STAKEHOLDERS_FILE: cannot read"):
        config.load(tmp_path / "nope.yml")


@pytest.mark.parametrize(
    ("text", "line", "reason"),
    [
        ("webhooks:\n  - url: ftp://x.example\n    secret: 0123456789abcdef\n", 2, "http(s) URL"),
        ("webhooks:\n  - url: https://x.example\n    secret: short\n", 3, "too short"),
        ("webhooks:\n  - url: https://x.example\n", 2, "needs `secret`"),
        (
            "webhooks:\n  - url: https://x.example\n    secret: 0123456789abcdef\n"
            "    events: [exploded]\n",
            4,
            "not an incident event",
        ),
    ],
)
def test_a_bad_webhooks_file_names_the_line(
    tmp_path: Path, text: str, line: int, reason: str
) -> None:
    with pytest.raises(ConfigError) as failure:
        webhooks.load(_write(tmp_path, text, "hooks.yml"))
    assert str(failure.value).startswith("WEBHOOKS_FILE ")
    assert f"line {line}:" in str(failure.value) and reason in str(failure.value)


def test_settings_stop_start_up_on_a_bad_file(tmp_path: Path) -> None:
    path = _write(tmp_path, "groups:\n  - name: A\n    quadrant: nope\n    members: []\n")
    with pytest.raises(ConfigError, match=r"line 3: `nope` is not a quadrant"):
        load_settings(env_file=None, stakeholders_file=str(path))


def test_settings_need_a_channel_for_what_the_groups_use(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "groups:\n  - name: Ops\n    quadrant: manage_closely\n"
        "    members:\n      - {email: ops@acme.example, phone: '+15551230000'}\n",
    )
    with pytest.raises(ConfigError) as failure:
        load_settings(env_file=None, stakeholders_file=str(path))
    assert "texts its phone numbers, but SMS_PROVIDER is not set" in str(failure.value)
    assert "e-mails its members, but SMTP_HOST and SMTP_FROM are not set" in str(failure.value)
    settings = load_settings(
        env_file=None,
        stakeholders_file=str(path),
        smtp_host="127.0.0.1",
        smtp_from="bot@acme.example",
        sms_provider="twilio",
        twilio_account_sid="AC123",
        twilio_auth_token="token",
        twilio_from="+15550000000",
    )
    assert [g.name for g in settings.stakeholders.groups] == ["Ops"]


def test_settings_check_the_sms_provider_and_mastodon_keys() -> None:
    with pytest.raises(ConfigError, match="SMS_PROVIDER=vonage needs VONAGE_API_KEY"):
        load_settings(env_file=None, sms_provider="Vonage")
    with pytest.raises(ConfigError, match="MASTODON_API_URL and MASTODON_ACCESS_TOKEN"):
        load_settings(env_file=None, mastodon_api_url="https://social.example")
