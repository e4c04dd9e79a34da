"""Forged form submissions get the same rules as the form: a clear inline error, no change.

Slack's forms limit lengths and offer only real dates and people, but a request can say
anything: the server enforces every rule itself (bot.core.inputs).
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_postmortems import ActionItem
from tests.conftest import Workspace
from tests.harness import RunningBot
from tests.scenarios import declare, must, open_declare_form, submit_declare

pytestmark = pytest.mark.scenario


def rows(bot: RunningBot, model: type[Any]) -> list[Any]:
    with bot.runtime.services.db.session() as session:
        return list(session.exec(select(model)).all())


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"summary": "x" * 40_000}, "summary", "3000 characters (it has 40000)"),
        ({"impact": "y" * 3001}, "impact", "At most 3000"),
        ({"title": "Invoice \u202efdp.exe"}, "title", "U+202E"),
        ({"title": "\u200b\u200b"}, "title", "no visible characters"),
        ({"title": "z" * 40_000}, "title", "At most 150"),
        ({"manager": "UEVIL> <!everyone"}, "manager", "must be a person"),
    ],
)
def test_a_forged_declaration_is_refused_inline(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    fields: dict[str, str],
    field: str,
    words: str,
) -> None:
    view = open_declare_form(driver, slack, user=workspace.alice, channel=workspace.general)
    values = {"title": "Checkout is down", **fields}
    result = submit_declare(driver, view, user=workspace.alice, **values)
    assert result.status == 200 and result.json["response_action"] == "errors"
    assert words in result.json["errors"][field]
    assert slack.current_view(workspace.alice) is not None  # the form stays open
    assert rows(bot, Incident) == []


def test_nul_bytes_from_a_form_are_stripped_not_stored(
    bot: RunningBot, driver: SlackDriver, slack: SlackEmulator, workspace: Workspace
) -> None:
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Disk\x00 full",
        summary="db-1\x00 is full\u202e",
    )
    assert incident.setup_state == "complete"
    assert (incident.title, incident.summary) == ("Disk full", "db-1 is full")


@pytest.mark.parametrize(
    ("due", "words"),
    [("9999-12-31", "10 years"), ("not-a-date", "YYYY-MM-DD"), ("2026-02-30", "not a date")],
)
def test_a_forged_due_date_is_refused_inline(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    due: str,
    words: str,
) -> None:
    incident = declare(bot, driver, slack, user=workspace.alice, channel=workspace.general)
    channel = must(incident.channel_id)
    ts = driver.user_posts(workspace.carol, channel, "We need an alert on disk usage")
    message = must(slack.message(channel, ts))
    before = len(slack.calls_to("views.open"))
    driver.message_shortcut(
        "create_action_item", user=workspace.alice, channel=channel, message=message
    )
    slack.wait_for("views.open", count=before + 1)
    form = must(slack.current_view(workspace.alice))
    values = {"text": {"text": "Alert on disk usage"}, "due": {"due": due}}
    result = driver.view_submission(form, values, user=workspace.alice)
    assert result.status == 200 and result.json["response_action"] == "errors"
    assert words in result.json["errors"]["due"]
    assert rows(bot, ActionItem) == []
