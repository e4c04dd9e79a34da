"""Who requests must be for: learned from auth.test and bots.info, or set; refusing others."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient

from bot.core.errors import ConfigError
from bot.settings import Settings, load_settings
from bot.slack.identity import Identity, learn
from playground.emulator import SlackEmulator
from tests.harness import BOT_TOKEN


def _settings(**values: str) -> Settings:
    return load_settings(env_file=None, **values)


def test_learned_from_auth_test_and_bots_info(slack: SlackEmulator) -> None:
    us = learn(_settings(), WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    assert us == Identity(frozenset({slack.team_id}), slack.app_id)
    assert [c.method for c in slack.calls] == ["auth.test", "bots.info"]


def test_settings_say_it_without_asking(slack: SlackEmulator) -> None:
    settings = _settings(slack_team_id="T0AAAAAAA, E0BBBBBBB", slack_app_id="A0CCCCCCC")
    us = learn(settings, WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    assert us == Identity(frozenset({"T0AAAAAAA", "E0BBBBBBB"}), "A0CCCCCCC")
    assert slack.calls == []


def test_a_refused_token_stops_start_up(slack: SlackEmulator) -> None:
    with pytest.raises(ConfigError, match="invalid_auth"):
        learn(_settings(), WebClient(token="xoxb-not-ours", base_url=slack.api_url))


def test_without_bots_info_only_the_team_is_checked(slack: SlackEmulator) -> None:
    slack.fail("bots.info", error="missing_scope")
    us = learn(_settings(), WebClient(token=BOT_TOKEN, base_url=slack.api_url))
    assert us == Identity(frozenset({slack.team_id}), None)
    assert us.refuses(team_id=slack.team_id, app_id="A0ANY") is None


def test_refusals_name_the_reason() -> None:
    us = Identity(frozenset({"T1"}), "A1")
    assert us.refuses(team_id="T1", app_id="A1") is None
    assert us.refuses(team_id="T1", app_id=None) is None  # not every payload names the app
    assert us.refuses(team_id="T2", app_id="A1") == "team T2 is not ours"
    assert us.refuses(team_id=None, app_id="A1") == "team (none) is not ours"
    assert us.refuses(team_id="T1", app_id="A2") == "app A2 is not ours"


@pytest.mark.parametrize(
    ("key", "value"),
    [("slack_team_id", "not-a-team"), ("slack_team_id", "U0USER"), ("slack_app_id", "T0TEAM")],
)
def test_bad_ids_stop_start_up(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=key.upper()):
        load_settings(env_file=None, **{key: value})
