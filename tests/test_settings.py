"""Configuration is validated at start-up with messages that say what to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.core.errors import ConfigError
from bot.settings import load_settings


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "SLACK_APP_TOKEN",
        "DATABASE_URL",
        "PORT",
        "LOG_LEVEL",
        "SLACK_API_URL",
    ):
        monkeypatch.delenv(key, raising=False)


def test_defaults() -> None:
    settings = load_settings(env_file=None)
    assert settings.database_url.startswith("sqlite:///")
    assert (settings.host, settings.port) == ("0.0.0.0", 3000)
    assert settings.slack_api_url == "https://slack.com/api/"
    assert not settings.socket_mode


def test_reads_env_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path / ".env"
    env.write_text("SLACK_BOT_TOKEN=xoxb-from-file\nPORT=4000\nLOG_LEVEL=debug\n")
    monkeypatch.setenv("PORT", "5000")  # the environment wins over the file
    settings = load_settings(env_file=env)
    assert settings.slack_bot_token == "xoxb-from-file"
    assert settings.port == 5000
    assert settings.log_level == "DEBUG"


def test_api_url_gets_trailing_slash() -> None:
    assert load_settings(env_file=None, slack_api_url="http://127.0.0.1:9/api").slack_api_url == (
        "http://127.0.0.1:9/api/"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("port", "99999", "PORT"),
        ("database_url", "mysql://x", "DATABASE_URL"),
        ("log_level", "LOUD", "LOG_LEVEL"),
        ("slack_api_url", "slack.com/api", "SLACK_API_URL"),
        ("incident_channel_prefix", "Bad Prefix", "INCIDENT_CHANNEL_PREFIX"),
    ],
)
def test_bad_values_name_the_key(key: str, value: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_settings(env_file=None, **{key: value})


def test_missing_credentials_say_what_to_set_and_where() -> None:
    settings = load_settings(env_file=None)
    with pytest.raises(ConfigError) as info:
        settings.check_slack_credentials()
    message = str(info.value)
    assert "SLACK_BOT_TOKEN" in message and "OAuth & Permissions" in message
    assert "SLACK_SIGNING_SECRET" in message and "Basic Information" in message


def test_placeholders_from_env_example_are_rejected() -> None:
    example = Path(__file__).resolve().parents[1] / ".env.example"
    settings = load_settings(env_file=example)
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        settings.check_slack_credentials()


def test_socket_mode_needs_app_token_not_signing_secret() -> None:
    settings = load_settings(env_file=None, slack_bot_token="xoxb-1-2", slack_app_token="xapp-1")
    assert settings.socket_mode
    settings.check_slack_credentials()
    bad = load_settings(env_file=None, slack_bot_token="xoxb-1-2", slack_app_token="xoxb-wrong")
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN"):
        bad.check_slack_credentials()


def test_valid_http_credentials_pass() -> None:
    load_settings(
        env_file=None, slack_bot_token="xoxb-123-456", slack_signing_secret="8f2b0c1d"
    ).check_slack_credentials()


def test_console_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET", "CONSOLE_SESSION_SECRET"):
        monkeypatch.delenv(key, raising=False)
    assert not load_settings(env_file=None).console_enabled
    with pytest.raises(ConfigError) as missing:
        load_settings(env_file=None, slack_client_id="1.2")
    assert "SLACK_CLIENT_SECRET must be set" in str(missing.value)
    assert "CONSOLE_SESSION_SECRET must be a random string of 32" in str(missing.value)
    with pytest.raises(ConfigError, match="CONSOLE_SESSION_SECRET"):
        load_settings(
            env_file=None,
            slack_client_id="1.2",
            slack_client_secret="s3cret",
            console_session_secret="short",
        )
    settings = load_settings(
        env_file=None,
        slack_client_id="1.2",
        slack_client_secret="s3cret",
        console_session_secret="Zq8rT2mK9vLw4nB7cX1pD5sF3gH6jY0u",
        console_base_url="https://incidents.example.com/",
    )
    assert settings.console_enabled
    assert settings.console_base_url == "https://incidents.example.com"
    with pytest.raises(ConfigError, match="CONSOLE_BASE_URL"):
        load_settings(env_file=None, console_base_url="incidents.example.com")


def test_digest_metrics_and_log_format() -> None:
    settings = load_settings(env_file=None, digest_schedule="Mon 09:00", log_format="JSON")
    assert (settings.digest_schedule, settings.log_format) == ("mon 09:00", "json")
    assert (settings.metrics_port, settings.metrics_token) == (0, "")  # off by default
    with pytest.raises(ConfigError, match=r"DIGEST_SCHEDULE: .*like mon 09:00"):
        load_settings(env_file=None, digest_schedule="mondays")
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        load_settings(env_file=None, log_format="xml")


@pytest.mark.parametrize(
    ("env", "wanted"),
    [
        ({}, True),  # SQLite: the answers are kept in the journal, beside no write lock
        ({"INBOX_JOURNAL": "off"}, False),  # ... without it they would wait for the worker
        ({"DATABASE_URL": "sqlite://"}, False),  # in memory: one process
        ({"DATABASE_URL": "postgresql://u@h/db"}, True),
        ({"DATABASE_URL": "postgresql://u@h/db", "PROCESS_WORKER": "off"}, False),
        ({"PROCESS_WORKER": "on"}, True),
        ({"PROCESS_WORKER": "on", "SLACK_APP_TOKEN": "xapp-1"}, False),  # Socket Mode
    ],
)
def test_the_processing_worker_runs_where_it_helps(
    env: dict[str, str], wanted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert load_settings(env_file=None).worker_wanted is wanted
