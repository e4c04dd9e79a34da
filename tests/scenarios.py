"""Steps that many scenario tests share: declaring an incident the way a user does."""

from __future__ import annotations

from typing import Any, TypeVar

from sqlmodel import col, select

from playground.emulator import DriverResult, SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_inbox import InboxRequest
from tests.harness import RunningBot

T = TypeVar("T")


def must(value: T | None) -> T:
    """The value of an optional field that the scenario has already set (fails the test if not)."""
    assert value is not None, "expected a value, got None"
    return value


def open_declare_form(
    driver: SlackDriver, slack: SlackEmulator, *, user: str, channel: str, text: str = ""
) -> dict[str, Any]:
    """Type `/incident declare <text>` and return the modal the bot opened."""
    before = len(slack.calls_to("views.open"))
    driver.slash_command(f"declare {text}".strip(), user=user, channel=channel)
    slack.wait_for("views.open", count=before + 1)
    view = slack.current_view(user)
    assert view is not None, "the declare form did not open"
    return view


def declare_values(
    *,
    title: str,
    severity: str | None = "sev2",
    summary: str = "",
    impact: str = "",
    manager: str | None = None,
    private: bool = False,
    drill: bool = False,
) -> dict[str, dict[str, Any]]:
    """The declare form's values as the driver submits them."""
    values: dict[str, dict[str, Any]] = {
        "title": {"title": title},
        "summary": {"summary": summary},
        "impact": {"impact": impact},
    }
    if severity is not None:
        values["severity"] = {"severity": severity}
    if manager is not None:
        values["manager"] = {"manager": manager}
    if private:
        values["private"] = {"private": ["private"]}
    if drill:
        values["drill"] = {"drill": ["drill"]}
    return values


def submit_declare(
    driver: SlackDriver, view: dict[str, Any], *, user: str, **fields: Any
) -> DriverResult:
    """Submit the declare form."""
    fields.setdefault("manager", user)
    return driver.view_submission(view, declare_values(**fields), user=user)


def wait_for_setup(bot: RunningBot, *, number: int = 1, timeout: float = 10) -> Incident:
    """Wait until incident `number` has finished (or failed) its setup, and return it."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        with bot.runtime.services.db.session() as session:
            incident = session.exec(select(Incident).where(Incident.number == number)).first()
        if incident is not None and incident.setup_state in ("complete", "failed"):
            return incident
        if time.monotonic() > deadline:
            state = incident.setup_state if incident else "no incident"
            raise AssertionError(f"incident #{number} setup did not finish: {state}")
        time.sleep(0.02)


def declare(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    *,
    user: str,
    channel: str,
    title: str = "Database is down",
    **fields: Any,
) -> Incident:
    """Declare through the form and wait for the channel, card and announcement."""
    with bot.runtime.services.db.session() as session:
        from sqlalchemy import func

        number = (session.exec(select(func.max(Incident.number))).one() or 0) + 1
    view = open_declare_form(driver, slack, user=user, channel=channel, text=title)
    result = submit_declare(driver, view, user=user, title=title, **fields)
    assert result.status == 200, result.body
    return wait_for_setup(bot, number=number)


def inbox_rows(bot: RunningBot) -> list[InboxRequest]:
    """Every request the bot kept in its inbox, in the order kept."""
    with bot.runtime.services.db.read() as session:
        return list(session.exec(select(InboxRequest).order_by(col(InboxRequest.id))).all())


def pin_event(
    slack: SlackEmulator, *, user: str, channel: str, ts: str, **extra: Any
) -> dict[str, Any]:
    """A `reaction_added` event (a :pushpin: on the message at `ts`), as Slack delivers it."""
    return {
        "type": "reaction_added",
        "user": user,
        "item": {"type": "message", "channel": channel, "ts": ts},
        "reaction": "pushpin",
        "event_ts": slack.next_ts(),
        **extra,
    }
