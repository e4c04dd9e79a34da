"""Hostile text typed into forms and commands, end to end: it shows as typed, never as markup.

Through the real server and the Slack emulator: the card, the broadcast line, the update in
the channel and under the announcement, the resolution notice, a reminder, `/incident list`
and the App Home. Slash-command text arrives escaped by Slack and is escaped exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import select

from blocks.reminders import key_of
from playground.emulator import SlackEmulator
from storage.models import Incident
from storage.models_postmortems import ActionItem
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.markup import HOSTILE, HOSTILE_ESCAPED, assert_no_markup_from_input
from tests.scenarios import declare, must, open_declare_form

pytestmark = pytest.mark.scenario


def test_hostile_title_summary_and_impact_never_ping_or_hide_links(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    announce = slack.add_channel("incidents")
    bot = start_bot(
        incident_broadcast_channel="#incidents",
        reminder_intervals="sev1=1s",
        scheduler_tick_seconds=1.0,
    )
    driver = bot.driver(slack)
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title=HOSTILE,
        severity="sev1",
        summary=HOSTILE,
        impact=HOSTILE,
        manager=workspace.bob,
    )
    assert incident.setup_state == "complete"
    assert (incident.title, incident.summary, incident.impact) == (HOSTILE, HOSTILE, HOSTILE)
    channel = must(incident.channel_id)

    # The pinned card: title in the (plain-text) header as typed, the rest escaped.
    card = slack.pins(channel)[0]
    shown = assert_no_markup_from_input(card, where="on the card")
    assert shown.count(HOSTILE_ESCAPED) >= 2  # summary and impact
    header = next(b for b in card["blocks"] if b["type"] == "header")
    assert HOSTILE[:50] in header["text"]["text"]

    # The broadcast line and the manager's checklist.
    line = slack.message(announce, must(incident.broadcast_ts))
    assert HOSTILE_ESCAPED[:60] in assert_no_markup_from_input(line, where="in the broadcast")
    for message in slack.dms(workspace.bob):
        assert_no_markup_from_input(message, where="in the checklist")

    # A reminder: the bot mentions the manager itself; nothing typed turns into a ping.
    slack.wait_for(lambda: any(key_of(m) for m in slack.messages(channel)), timeout=8)
    reminder = next(m for m in slack.messages(channel) if key_of(m))
    words = assert_no_markup_from_input(reminder, where="in the reminder")
    assert f"<@{workspace.bob}>" in words and "<!channel>" not in words

    # An update from the form, in the channel and under the announcement.
    driver.slash_command("update", user=workspace.bob, channel=channel)
    slack.wait_for(lambda: slack.current_view(workspace.bob) is not None)
    form = must(slack.current_view(workspace.bob))
    assert driver.view_submission(form, {"message": {"message": HOSTILE}}, user=workspace.bob)
    slack.wait_for(lambda: slack.replies(announce, must(incident.broadcast_ts)))
    for message in [
        *slack.messages(channel),
        *slack.replies(announce, must(incident.broadcast_ts)),
    ]:
        assert_no_markup_from_input(message, where="in an update")

    # `/incident list` and the App Home.
    listed = driver.slash_command("list", user=workspace.carol, channel=workspace.general)
    answer = response_to(slack, listed.response_url)
    assert HOSTILE_ESCAPED[:60] in assert_no_markup_from_input(answer, where="in the list")
    driver.app_home_opened(workspace.carol)
    slack.wait_for("views.publish")
    assert_no_markup_from_input(slack.home(workspace.carol), where="on the App Home")

    # The resolution notice.
    driver.slash_command("resolve", user=workspace.bob, channel=channel)
    slack.wait_for(lambda: (slack.current_view(workspace.bob) or {}).get("callback_id"))
    form = must(slack.current_view(workspace.bob))
    driver.view_submission(form, {"resolution": {"resolution": HOSTILE}}, user=workspace.bob)
    slack.wait_for(lambda: "Resolution" in str(slack.messages(channel)))
    for message in slack.messages(channel, include_replies=True):
        assert_no_markup_from_input(message, where="in the incident channel")
    for message in slack.messages(announce, include_replies=True):
        assert_no_markup_from_input(message, where="in the broadcast channel")


def test_command_text_is_stored_as_meant_and_escaped_once(
    bot: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    driver = bot.driver(slack)
    # What Slack sends for `/incident declare Q&A <!here> down`: &, < and > escaped.
    form = open_declare_form(
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        text="Q&amp;A &lt;!here&gt; down",
    )
    assert form["blocks"][0]["element"]["initial_value"] == "Q&A <!here> down"
    incident = declare(
        bot,
        driver,
        slack,
        user=workspace.alice,
        channel=workspace.general,
        title="Q&A <!here> down",
    )
    card = slack.pins(must(incident.channel_id))[0]
    assert "Q&amp;A &lt;!here&gt; down" in card["text"]
    assert_no_markup_from_input(card)

    typed = "Rotate the key &lt;!here&gt; &amp; tell &lt;http://evil.example|ops&gt;"
    done = driver.slash_command(
        f"action {typed}", user=workspace.alice, channel=must(incident.channel_id)
    )
    assert "Created action item" in response_to(slack, done.response_url)["text"]
    with bot.runtime.services.db.session() as session:
        item = session.exec(select(ActionItem)).one()
    assert item.text == "Rotate the key <!here> & tell <http://evil.example|ops>"
    channel = must(incident.channel_id)

    def announced() -> list[dict[str, Any]]:  # the outbox delivers it after the answer
        return [m for m in slack.messages(channel) if "Rotate the key" in m.get("text", "")]

    slack.wait_for(announced)
    notice = announced()[-1]
    assert "Rotate the key &lt;!here&gt; &amp; tell" in notice["text"]
    assert_no_markup_from_input(notice)
    for message in slack.dms(workspace.alice):
        assert_no_markup_from_input(message, where="in the owner's message")
    with bot.runtime.services.db.session() as session:
        assert session.exec(select(Incident)).one().title == "Q&A <!here> down"
