"""Socket Mode through the emulator's WebSocket: acks come once what was asked is durable."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from sqlmodel import select

from playground.emulator import SlackEmulator, SocketModeDriver
from storage.models import Incident
from storage.models_timeline import TimelineEntry
from tests.conftest import Workspace
from tests.harness import APP_TOKEN, RunningBot, response_to
from tests.scenarios import (
    inbox_rows,
    open_declare_form,
    pin_event,
    submit_declare,
    wait_for_setup,
)

pytestmark = pytest.mark.scenario


@pytest.fixture
def socket_bot(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> RunningBot:
    """The real bot connected in Socket Mode (no signing secret, no HTTP endpoint for Slack)."""
    return start_bot(slack_app_token=APP_TOKEN, slack_signing_secret="")


@pytest.fixture
def sdriver(socket_bot: RunningBot, slack: SlackEmulator) -> SocketModeDriver:
    slack.sockets.wait_connected()
    return SocketModeDriver(slack)


def _incidents(bot: RunningBot) -> list[Incident]:
    with bot.runtime.services.db.read() as session:
        return list(session.exec(select(Incident)).all())


def test_connects_with_the_app_token_and_acks_a_command(
    sdriver: SocketModeDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    opened = slack.calls_to("apps.connections.open")
    assert len(opened) == 1 and opened[0].token == APP_TOKEN and opened[0].status == 200
    assert slack.sockets.opened == 1 and slack.sockets.protocol_errors == []
    result = sdriver.slash_command("help", user=workspace.alice, channel=workspace.general)
    assert result.status == 200 and result.json is None  # an empty ack
    assert "/incident" in response_to(slack, result.response_url)["text"]


def test_the_declare_form_is_acked_after_the_submission_is_kept(
    socket_bot: RunningBot, sdriver: SocketModeDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(sdriver, slack, user=workspace.alice, channel=workspace.general)
    slack.set_latency(0.3)  # the channel and the card take seconds; the ack does not wait
    result = submit_declare(sdriver, view, user=workspace.alice, title="Queue is stuck")
    assert result.status == 200 and result.elapsed < 1.0
    kept = inbox_rows(socket_bot)  # read right after the ack: the submission is committed
    assert "interactive" in {r.kind for r in kept}
    assert slack.current_view(workspace.alice) is None
    slack.wait_for(lambda: [i.title for i in _incidents(socket_bot)] == ["Queue is stuck"])
    slack.clear_faults()
    incident = wait_for_setup(socket_bot, timeout=15)
    assert incident.setup_state == "complete" and incident.channel_id
    rows = inbox_rows(socket_bot)
    slack.wait_for(lambda: all(r.processed_at for r in inbox_rows(socket_bot)), timeout=5)
    assert {r.kind for r in rows} == {"slash_commands", "interactive"}
    assert all(r.mode == "socket_mode" for r in rows)


def test_form_errors_come_back_in_the_ack(
    socket_bot: RunningBot, sdriver: SocketModeDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(sdriver, slack, user=workspace.alice, channel=workspace.general)
    result = submit_declare(sdriver, view, user=workspace.alice, title="   ")
    assert result.status == 200
    assert result.json["response_action"] == "errors" and "title" in result.json["errors"]
    assert slack.current_view(workspace.alice) is not None  # the form stays open
    assert _incidents(socket_bot) == []


def test_an_event_sent_three_times_is_processed_once(
    socket_bot: RunningBot, sdriver: SocketModeDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    view = open_declare_form(sdriver, slack, user=workspace.alice, channel=workspace.general)
    submit_declare(sdriver, view, user=workspace.alice, title="Disk full")
    channel = str(wait_for_setup(socket_bot).channel_id)
    ts = sdriver.user_posts(workspace.alice, channel, "disk at 100%")
    slack.react_as_user(workspace.alice, channel, ts, "pushpin")
    event = pin_event(slack, user=workspace.alice, channel=channel, ts=ts)
    results = [
        sdriver.event(event, event_id="EvSOCKET3X"),
        sdriver.event(event, event_id="EvSOCKET3X", retry_num=1),
        sdriver.event(event, event_id="EvSOCKET3X", retry_num=2),
    ]
    assert [r.status for r in results] == [200, 200, 200]

    def entries() -> list[TimelineEntry]:
        with socket_bot.runtime.services.db.read() as session:
            query = select(TimelineEntry).where(TimelineEntry.message_ts == ts)
            return list(session.exec(query).all())

    slack.wait_for(lambda: len(entries()) == 1)
    slack.wait_for(lambda: slack.calls_to("reactions.add"))
    time.sleep(0.3)
    assert len(entries()) == 1
    assert len([c for c in slack.calls_to("reactions.add") if c.params["timestamp"] == ts]) == 1
    assert len([r for r in inbox_rows(socket_bot) if r.key == "event:EvSOCKET3X"]) == 1


def test_a_refresh_request_reconnects_and_nothing_is_lost(
    socket_bot: RunningBot, sdriver: SocketModeDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.sockets.disconnect("refresh_requested")
    slack.sockets.wait_connected(opened=2)
    assert len(slack.calls_to("apps.connections.open")) == 2
    result = sdriver.slash_command("help", user=workspace.bob, channel=workspace.general)
    assert result.status == 200
    assert slack.sockets.envelopes[next(reversed(slack.sockets.envelopes))].connection == 2
    assert "/incident" in response_to(slack, result.response_url)["text"]


def test_an_envelope_that_cannot_be_kept_is_not_acknowledged(
    socket_bot: RunningBot, sdriver: SocketModeDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    db = socket_bot.runtime.services.db
    with db.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE inbox_request")
    result = sdriver.with_options(timeout=2).slash_command(
        "help", user=workspace.alice, channel=workspace.general
    )
    assert result.status == 504  # no ack: Slack shows the user it failed
    [told] = slack.responses  # and the bot says why; the command itself did not run
    assert "could not take that in" in told["body"]["text"]
