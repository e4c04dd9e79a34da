"""Every event the manifest subscribes to is acknowledged with 200 (never 404, which Slack
retries and eventually punishes by disabling the subscription), and reactions reach each
feature whose emoji they are."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlmodel import select

from playground.emulator import SlackDriver, SlackEmulator
from storage.models_postmortems import ActionItem
from storage.models_timeline import TimelineEntry
from tests.conftest import Workspace
from tests.handlers.conftest import Room
from tests.harness import RunningBot
from tests.scenarios import declare

pytestmark = pytest.mark.scenario

MANIFEST = yaml.safe_load((Path(__file__).resolve().parents[2] / "manifest.yml").read_text())
EVENTS = MANIFEST["settings"]["event_subscriptions"]["bot_events"]


def _event(name: str, ws: Workspace) -> dict[str, Any]:
    ts = "1732770000.000100"
    if name in ("message.channels", "message.groups"):
        return {
            "type": "message",
            "channel": ws.general,
            "user": ws.alice,
            "text": "hi",
            "ts": ts,
            "event_ts": ts,
            "channel_type": "channel",
        }
    if name in ("reaction_added", "reaction_removed"):
        return {
            "type": name,
            "user": ws.alice,
            "reaction": "thumbsup",
            "item_user": ws.bob,
            "item": {"type": "message", "channel": ws.general, "ts": ts},
            "event_ts": ts,
        }
    if name == "app_home_opened":
        return {
            "type": name,
            "user": ws.alice,
            "channel": "D0001",
            "tab": "messages",
            "event_ts": ts,
        }
    raise AssertionError(f"add a sample for {name}")


@pytest.mark.parametrize("name", EVENTS)
def test_subscribed_event_is_acknowledged(
    driver: SlackDriver, workspace: Workspace, name: str
) -> None:
    result = driver.event(_event(name, workspace))
    assert result.status == 200, (name, result.status, result.body)
    assert result.elapsed < 1.0


def test_an_emoji_of_both_features_does_both(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    """Each feature has its own listener; an emoji configured for both reaches both."""
    bot = start_bot(action_item_emoji="pushpin")
    driver = bot.driver(slack)
    room = Room(
        bot,
        driver,
        slack,
        workspace,
        declare(bot, driver, slack, user=workspace.alice, channel=workspace.general),
    )
    ts = room.post(workspace.alice, "Rotate the leaked key")
    assert room.react(workspace.alice, ts).status == 200

    def both() -> bool:
        with bot.runtime.services.db.session() as session:
            entries = session.exec(select(TimelineEntry).where(TimelineEntry.message_ts == ts))
            items = session.exec(select(ActionItem).where(ActionItem.message_ts == ts))
            return bool(entries.all()) and bool(items.all())

    slack.wait_for(both)
