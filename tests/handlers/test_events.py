"""Every event the manifest subscribes to is acknowledged with 200 (never 404, which Slack
retries and eventually punishes by disabling the subscription)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Workspace
from tests.emulator import SlackDriver

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
