"""Reminders end to end: the real bot and scheduler, the Slack emulator, intervals of seconds."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from blocks.reminders import key_of
from bot import incidents, reminders
from bot.reminders.policy import Kind, ReminderPolicy
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_reminders import Reminder
from storage.types import utcnow
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare

pytestmark = pytest.mark.scenario

FAST = {
    "reminder_intervals": "sev1=1s,sev2=2s,sev3=1h,sev4=off",
    "scheduler_tick_seconds": 1.0,
    "no_manager_nudge_after": "1s",
    "no_manager_nudge_max": 2,
}


def reminder_messages(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    """The reminders posted in `channel`, oldest first."""
    return [m for m in slack.messages(channel) if key_of(m) is not None]


def at(message: dict[str, Any]) -> float:
    return float(message["ts"])


def wait_for_reminders(
    slack: SlackEmulator, channel: str, count: int, timeout: float = 8
) -> list[dict[str, Any]]:
    slack.wait_for(lambda: len(reminder_messages(slack, channel)) >= count, timeout=timeout)
    return reminder_messages(slack, channel)


def update_row(bot: RunningBot, incident_id: int) -> Reminder:
    """The incident's update-reminder row (waits for the event subscriber to plan it)."""

    def planned() -> Reminder | None:
        with bot.runtime.services.db.session() as session:
            return session.exec(
                select(Reminder).where(
                    Reminder.incident_id == incident_id, Reminder.kind == Kind.UPDATE.value
                )
            ).first()

    deadline = time.monotonic() + 5
    while (found := planned()) is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert found is not None, "the incident's reminders were not planned"
    return found


def post_update(
    driver: SlackDriver, slack: SlackEmulator, *, user: str, channel: str, text: str
) -> float:
    """Open the update form with `/incident update` and submit it; returns when it was sent."""
    opened = len(slack.calls_to("views.open"))
    driver.slash_command(f"update {text}", user=user, channel=channel)
    slack.wait_for("views.open", count=opened + 1)
    view = slack.current_view(user)
    assert view is not None and view["callback_id"] == "update_modal"
    sent = time.time()
    result = driver.view_submission(view, {"message": {"message": text}}, user=user)
    assert result.status == 200
    return sent


@pytest.fixture
def fast_bot(start_bot: Callable[..., RunningBot], workspace: Workspace) -> RunningBot:
    return start_bot(**FAST)


@pytest.fixture
def fast_driver(fast_bot: RunningBot, slack: SlackEmulator) -> SlackDriver:
    return fast_bot.driver(slack)


def declare_sev(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, ws: Workspace, severity: str
) -> Incident:
    return declare(
        bot, driver, slack, user=ws.alice, channel=ws.general, manager=ws.bob, severity=severity
    )


def test_reminders_follow_the_severity_cadence(
    fast_bot: RunningBot, fast_driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare_sev(fast_bot, fast_driver, slack, workspace, "sev1")  # every second
    channel = incident.channel_id
    assert channel is not None
    first, second, third = wait_for_reminders(slack, channel, 3)
    assert 1.0 <= at(first) - incident.declared_at.timestamp() < 1.8  # close to its due time
    assert 1.0 <= at(second) - at(first) < 1.8
    assert 1.0 <= at(third) - at(second) < 1.8
    assert f"<@{workspace.bob}>" in first["text"] and "no status update" in first["text"]


def test_an_update_from_the_reminder_button_resets_the_clock(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(**{**FAST, "reminder_intervals": "sev1=2s"})
    driver = bot.driver(slack)
    incident = declare_sev(bot, driver, slack, workspace, "sev1")
    channel = incident.channel_id
    assert channel is not None
    [first] = wait_for_reminders(slack, channel, 1)
    time.sleep(1.0)  # halfway to the next reminder
    opened = len(slack.calls_to("views.open"))
    driver.block_actions("incident_post_update", user=workspace.bob, message=first, channel=channel)
    slack.wait_for("views.open", count=opened + 1)
    view = slack.current_view(workspace.bob)
    assert view is not None and view["callback_id"] == "update_modal"
    updated = time.time()
    driver.view_submission(view, {"message": {"message": "Rolled back"}}, user=workspace.bob)
    _, second = wait_for_reminders(slack, channel, 2)
    # Two seconds after the update, not two seconds after the first reminder.
    assert 2.0 <= at(second) - updated < 3.0
    assert at(second) - at(first) > 2.9


def test_a_severity_change_replans_the_next_reminder(
    fast_bot: RunningBot, fast_driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare_sev(fast_bot, fast_driver, slack, workspace, "sev3")  # every hour
    channel = incident.channel_id
    assert channel is not None and incident.id is not None
    assert update_row(fast_bot, incident.id).due_at == incident.declared_at + timedelta(hours=1)
    changed = time.time()
    fast_driver.slash_command("severity sev1", user=workspace.bob, channel=channel)
    [first] = wait_for_reminders(slack, channel, 1)
    assert at(first) - changed < 2.0
    assert "(SEV1)" in first["text"]


def test_snooze_holds_back_the_next_reminder(
    fast_bot: RunningBot, fast_driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare_sev(fast_bot, fast_driver, slack, workspace, "sev1")
    channel = incident.channel_id
    assert channel is not None and incident.id is not None
    [reminder] = wait_for_reminders(slack, channel, 1)
    slack.add_members(channel, workspace.carol)  # a responder
    clicked = utcnow()
    fast_driver.block_actions(
        "reminder_snooze_15", user=workspace.carol, message=reminder, channel=channel
    )
    slack.wait_for(lambda: "snoozed" in str(slack.message(channel, reminder["ts"])))
    snoozed = slack.message(channel, reminder["ts"])
    assert snoozed is not None
    assert f"<@{workspace.carol}> snoozed the next reminder" in str(snoozed["blocks"])
    assert "reminder_snooze_15" not in str(snoozed["blocks"])  # the snooze buttons are gone
    due = update_row(fast_bot, incident.id).due_at
    assert due is not None
    assert timedelta(minutes=15) <= due - clicked < timedelta(minutes=15, seconds=5)
    time.sleep(2.2)  # without the snooze, SEV1 would have been reminded twice more by now
    # A reminder already on its way to Slack when the button was pressed may still arrive
    # (on a slow machine the click can take longer than the 1 s interval); none after it.
    assert len(reminder_messages(slack, channel)) <= 2


def test_resolving_stops_reminders(
    fast_bot: RunningBot, fast_driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare_sev(fast_bot, fast_driver, slack, workspace, "sev1")
    channel = incident.channel_id
    assert channel is not None
    wait_for_reminders(slack, channel, 1)
    fast_driver.slash_command("status resolved", user=workspace.bob, channel=channel)
    slack.wait_for(lambda: "resolved the incident" in str(slack.messages(channel)))
    count = len(reminder_messages(slack, channel))
    time.sleep(2.2)
    assert len(reminder_messages(slack, channel)) == count


def test_a_failed_post_is_retried_and_the_reminder_posted_once(
    fast_bot: RunningBot, fast_driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare_sev(fast_bot, fast_driver, slack, workspace, "sev2")  # due after 2 s
    channel = incident.channel_id
    assert channel is not None
    slack.fail("chat.postMessage", status=503, times=1)
    [reminder] = wait_for_reminders(slack, channel, 1, timeout=10)
    failed = [c for c in slack.calls_to("chat.postMessage") if c.status == 503]
    assert len(failed) == 1 and failed[0].params["channel"] == channel
    assert at(reminder) - failed[0].at >= 1.9  # retried after a back-off
    assert slack.calls_to("conversations.history")  # a 503 may have posted: looked first
    time.sleep(1)
    assert len(reminder_messages(slack, channel)) == 1


def test_an_incident_without_manager_is_nudged_a_few_times(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace, db_url: str
) -> None:
    from storage import Database

    channel = slack.add_channel("inc-7-no-manager", members=[workspace.alice])
    database = Database(db_url)
    try:
        with database.session() as session:  # e.g. declared by an alert integration
            incident, _ = incidents.declare(
                session,
                title="Alert: queue backlog",
                severity="sev4",
                declared_by=workspace.alice,
                declare_key="alert-1",
            )
            incident.channel_id, incident.setup_state = channel, "complete"
            session.flush()
            session.execute(
                incidents.IncidentRole.__table__.delete()  # type: ignore[attr-defined]
            )
    finally:
        database.dispose()
    bot = start_bot(**FAST)
    first, second = wait_for_reminders(slack, channel, 2)
    assert "<!channel>" in first["text"] and "no incident manager" in first["text"]
    assert "Nudge 2 of 2." in str(second["blocks"])
    time.sleep(1.5)
    assert len(reminder_messages(slack, channel)) == 2  # at most NO_MANAGER_NUDGE_MAX
    with bot.runtime.services.db.session() as session:
        done = reminders.replan(
            session,
            incident_id=1,
            policy=ReminderPolicy.from_settings(bot.settings),
            now=datetime.now().astimezone(),
        )
    assert done[Kind.NO_MANAGER] is None


def test_reminders_go_out_on_time_between_slow_ticks(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    """With a tick every minute, the bot still wakes up exactly when each reminder is due."""
    bot = start_bot(**{**FAST, "scheduler_tick_seconds": 60.0})
    incident = declare_sev(bot, bot.driver(slack), slack, workspace, "sev1")
    assert incident.channel_id is not None
    first, second = wait_for_reminders(slack, incident.channel_id, 2, timeout=5)
    assert 1.0 <= at(first) - incident.declared_at.timestamp() < 1.5
    assert 1.0 <= at(second) - at(first) < 1.5
