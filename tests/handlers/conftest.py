"""What the handler scenarios share: a declared incident, the room it is run from, and the
rule that every test here that talks to the Slack emulator is marked `scenario`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from playground.emulator import DriverResult, SlackDriver, SlackEmulator
from storage.models import Incident
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse to run an emulator test of tests/handlers/ that lacks the `scenario` marker."""
    unmarked = [
        item.nodeid
        for item in items
        if HERE in Path(str(item.path)).resolve().parents
        and "slack" in getattr(item, "fixturenames", ())
        and item.get_closest_marker("scenario") is None
    ]
    if unmarked:
        raise pytest.UsageError(
            "emulator tests without @pytest.mark.scenario: " + ", ".join(unmarked)
        )


@pytest.fixture
def declare_fields(workspace: Workspace) -> dict[str, Any]:
    """What the `incident` fixture declares with; a module overrides it for other values."""
    return {"manager": workspace.bob}


@pytest.fixture
def incident(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    declare_fields: dict[str, Any],
) -> Incident:
    """Incident #1, declared by Alice from #general through the form, its setup finished."""
    return declare(
        bot, driver, slack, user=workspace.alice, channel=workspace.general, **declare_fields
    )


@dataclass
class Room:
    """An incident's channel, and what a scenario needs to act in it."""

    bot: RunningBot
    driver: SlackDriver
    slack: SlackEmulator
    ws: Workspace
    incident: Incident

    @property
    def channel(self) -> str:
        """The incident's channel."""
        assert self.incident.channel_id is not None
        return self.incident.channel_id

    def post(self, user: str, text: str, **options: Any) -> str:
        """`user` posts `text` in the channel; returns the message's ts."""
        return self.driver.user_posts(user, self.channel, text, **options)

    def react(self, user: str, ts: str, emoji: str = "pushpin") -> DriverResult:
        """`user` reacts to a message of the channel."""
        return self.driver.user_reacts(user, self.channel, ts, emoji)

    def command(self, text: str, *, user: str) -> DriverResult:
        """`user` types `/incident <text>` in the channel."""
        return self.driver.slash_command(text, user=user, channel=self.channel)


@pytest.fixture
def room(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    incident: Incident,
) -> Room:
    """The declared incident's channel."""
    return Room(bot, driver, slack, workspace, incident)
