"""The playground in headless Chromium, as a newcomer uses it: declare with the slash command
in the message box, fill the modal, find the channel with its pinned card, put a message on
the timeline with a :pushpin: reaction, post an update, resolve, read the post-mortem.

Skipped, with the reason, without Chromium or Playwright (scripts/test-deps installs Debian's
chromium). Each step is screenshot; PLAYGROUND_SCREENSHOTS=docs/playground writes them where
the README shows them (otherwise into the test's temporary folder).
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from slack_sdk import WebClient

from tests.playground_bot import PlaygroundBot
from tests.web.test_console_browser import browser

__all__ = ["browser"]  # the module-scoped Chromium fixture, shared


pytestmark = pytest.mark.scenario


@pytest.fixture
def playground(tmp_path: Path) -> Iterator[PlaygroundBot]:
    with PlaygroundBot(tmp_path / "playground-data") as bot:
        yield bot


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("PLAYGROUND_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _shot(page: Any, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"))


def test_a_newcomer_runs_an_incident_from_the_playground(
    browser: Any, playground: PlaygroundBot, shots: Path
) -> None:
    started = time.monotonic()
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(playground.session.url)
    page.get_by_test_id("channel-general").wait_for()
    assert (
        page.get_by_test_id("user-switch").input_value() == playground.session.world.people["iris"]
    )
    _shot(page, shots, "1-start")

    # Declare with the slash command typed in the message box.
    page.get_by_test_id("composer").fill("/incident declare Checkout returns 500s")
    page.keyboard.press("Enter")
    modal = page.locator(".modal")
    modal.wait_for()
    assert page.get_by_test_id("modal-title").inner_text() == "Declare an incident"
    assert modal.locator("[data-block-id=title] input").input_value() == "Checkout returns 500s"
    modal.locator("[data-block-id=severity] select").select_option("sev2")
    modal.locator("[data-block-id=summary] textarea").fill("Card payments fail at checkout")
    _shot(page, shots, "2-declare-modal")
    page.get_by_test_id("modal-submit").click()
    modal.wait_for(state="detached")

    # The incident channel appears in the list; its card is pinned.
    channel = page.locator("[data-channel^='inc-1-']")
    channel.wait_for()
    channel.click()
    messages = page.get_by_test_id("messages")
    card = messages.locator("[data-testid=message].is-pinned", has_text="#1 Checkout returns 500s")
    card.wait_for()
    assert "SEV2" in card.inner_text()
    assert "SEV2" in page.get_by_test_id("channel-topic").inner_text()
    _shot(page, shots, "3-incident-channel")

    # A message goes on the timeline with a :pushpin: reaction (a real reaction_added event).
    page.get_by_test_id("composer").fill("Deploy 4512 went out at 14:02, errors started 14:03")
    page.keyboard.press("Enter")
    message = messages.locator("[data-testid=message]", has_text="Deploy 4512 went out")
    message.wait_for()
    message.hover()
    message.locator("[data-add-reaction=pushpin]").click()
    message.locator("[data-reaction=pushpin]").wait_for()
    message.locator("[data-reaction=memo]").wait_for()  # the bot's "noted"
    _shot(page, shots, "4-pushpin-reaction")

    # An update through the card's button: empty first (the field's error), then written.
    card.locator("button", has_text="Post update").click()
    modal.wait_for()
    page.get_by_test_id("modal-submit").click()
    error = modal.locator(".bk-error")
    error.wait_for()
    assert "what is new" in error.inner_text().lower()
    _shot(page, shots, "5-update-validation")
    modal.locator(".has-error textarea").fill("Deploy 4512 rolled back; errors are falling")
    page.get_by_test_id("modal-submit").click()
    modal.wait_for(state="detached")
    messages.locator("[data-testid=message]", has_text="errors are falling").wait_for()
    _shot(page, shots, "6-update-posted")

    # Resolve from the card, then read the post-mortem the bot drafted.
    card.locator("button", has_text="Resolve").click()
    modal.wait_for()
    modal.locator("textarea").first.fill("Rolled back the bad deploy")
    page.get_by_test_id("modal-submit").click()
    modal.wait_for(state="detached")
    messages.locator("[data-testid=message]", has_text="resolved the incident").wait_for()
    postmortem = messages.get_by_test_id("file").first
    postmortem.wait_for()
    postmortem.locator("summary").click()
    content = postmortem.locator(".file-content")
    page.wait_for_function(
        "el => el.textContent.includes('Checkout returns 500s')", arg=content.element_handle()
    )
    assert "Rolled back the bad deploy" in content.inner_text()
    postmortem.scroll_into_view_if_needed()
    _shot(page, shots, "7-postmortem")

    # The inspector lists the requests sent to the bot and the bot's Web API calls.
    page.locator("#tabs button[data-tab=inspector]").click()
    inspector = page.locator("#tab-inspector")
    inspector.locator("details.log.request", has_text="reaction_added").first.wait_for()
    inspector.locator("details.log.call", has_text="pins.add").first.wait_for()
    reaction = inspector.locator("details.log.request", has_text="reaction_added").first
    reaction.locator("summary").click()
    reaction.locator("pre.json").first.wait_for()
    reaction.scroll_into_view_if_needed()
    _shot(page, shots, "8-inspector")
    page.locator("#tabs button[data-tab=mail]").click()
    mail = page.locator("#tab-mail details.mail").first
    mail.wait_for()
    mail.locator("summary").click()
    _shot(page, shots, "9-mail")
    assert problems == []
    assert time.monotonic() - started < 60


def test_the_console_and_status_page_links_work(browser: Any, playground: PlaygroundBot) -> None:
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(playground.session.url)
    page.get_by_test_id("channel-general").wait_for()  # the page has started
    page.locator("#tabs button[data-tab=tools]").click()
    with page.context.expect_page() as opened:
        page.get_by_text("Console", exact=True).click()
    console = opened.value
    console.get_by_text("Continue as Iris Ito").click()  # the emulator's Sign in with Slack
    console.wait_for_url("**/console/incidents")
    assert "Incident console" in console.title()
    with page.context.expect_page() as opened:
        page.get_by_text("Public status page").click()
    status = opened.value
    status.wait_for_load_state()
    assert status.title() == "Playground Status"


def test_shortcuts_threads_people_home_and_view_stacks(
    browser: Any, playground: PlaygroundBot
) -> None:
    world = playground.session.world
    page = browser.new_page(viewport={"width": 1400, "height": 860})
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.goto(playground.session.url)
    page.get_by_test_id("channel-general").wait_for()
    messages = page.get_by_test_id("messages")
    modal = page.locator(".modal")

    # A private incident declared from the global shortcut: Iris sees it, Rami does not.
    page.locator("#shortcuts-button").click()
    page.get_by_test_id("shortcut-declare_incident").click()
    modal.locator("[data-block-id=title] input").fill("Payroll export leaks")
    modal.locator("[data-block-id=severity] select").select_option("sev3")
    modal.locator("[data-block-id=private] input").check()
    page.get_by_test_id("modal-submit").click()
    modal.wait_for(state="detached")
    private = page.locator("[data-channel^='inc-1-']")
    private.wait_for()
    assert "private" in private.inner_text()
    page.get_by_test_id("nav-home").click()  # app_home_opened: the bot publishes the Home
    page.get_by_test_id("home").get_by_text("Payroll export leaks").first.wait_for()
    page.get_by_test_id("user-switch").select_option(world.people["rami"])
    page.get_by_test_id("home").get_by_text("Open incidents (0)").wait_for()
    page.get_by_test_id("channel-general").click()
    assert page.locator("[data-channel^='inc-1-']").count() == 0

    # Typed text is text: markup in it is shown, never run.
    page.get_by_test_id("composer").fill('<img src=x onerror="window.pwned=1"> <b>bold?</b>')
    page.keyboard.press("Enter")
    typed = messages.locator("[data-testid=message]", has_text="bold?")
    typed.wait_for()
    assert "<img src=x" in typed.inner_text() and "<b>bold?</b>" in typed.inner_text()
    assert typed.locator("img, b").count() == 1  # the author's name only
    assert page.evaluate("window.pwned") is None

    # Rami asks in #general, gets a reply in the thread, declares from the message.
    page.get_by_test_id("composer").fill("Is checkout down for anyone else?")
    page.keyboard.press("Enter")
    question = messages.locator("[data-testid=message]", has_text="checkout down")
    question.wait_for()
    question.hover()
    question.get_by_test_id("reply").click()
    page.get_by_test_id("thread-composer").fill("Yes, 500s since 14:03")
    page.keyboard.press("Enter")
    question.get_by_test_id("open-thread").filter(has_text="1 reply").wait_for()
    question.hover()
    question.get_by_test_id("message-shortcuts").click()
    question.get_by_text("Declare incident").click()
    modal.wait_for()
    summary = modal.locator("[data-block-id=summary] textarea").input_value()
    assert "Is checkout down for anyone else?" in summary
    page.locator(".modal-foot button", has_text="Cancel").click()
    modal.wait_for(state="detached")

    # A stack of views (what views.push makes), with selects, an overflow and a date picker.
    slack = WebClient(base_url=world.slack.api_url, token=world.bot_token)
    rami = world.people["rami"]
    first = {"type": "modal", "title": {"type": "plain_text", "text": "First"}, "blocks": []}
    slack.views_open(trigger_id=world.slack.issue_trigger_id(rami), view=first)
    second = {
        "type": "modal",
        "callback_id": "stacked",
        "title": {"type": "plain_text", "text": "Second"},
        "submit": {"type": "plain_text", "text": "Save"},
        "blocks": [
            {
                "type": "section",
                "block_id": "more",
                "text": {"type": "mrkdwn", "text": "*Bold* and <@" + rami + ">"},
                "accessory": {
                    "type": "overflow",
                    "action_id": "menu",
                    "options": [
                        {"text": {"type": "plain_text", "text": "Archive"}, "value": "archive"}
                    ],
                },
            },
            {
                "type": "input",
                "block_id": "when",
                "label": {"type": "plain_text", "text": "When"},
                "element": {"type": "datepicker", "action_id": "day"},
            },
            {
                "type": "input",
                "block_id": "who",
                "label": {"type": "plain_text", "text": "Who"},
                "element": {"type": "users_select", "action_id": "person"},
            },
        ],
    }
    slack.views_push(trigger_id=world.slack.issue_trigger_id(rami), view=second)
    page.get_by_test_id("modal-title").filter(has_text="Second").wait_for()
    assert "(2 of 2)" in modal.locator(".modal-head").inner_text()
    assert "Bold" in modal.locator("b").first.inner_text()
    assert "@Rami Rahman" in modal.locator(".mention").inner_text()
    assert modal.locator("input[type=date]").count() == 1
    assert modal.locator("[data-block-id=who] option", has_text="Sam Silva").count() == 1
    modal.locator(".overflow-button").click()
    modal.locator(".bk-menu-item", has_text="Archive").click()
    page.locator("#tabs button[data-tab=inspector]").click()
    sent = page.locator("#tab-inspector details.log.request", has_text="block_actions").first
    sent.locator("summary").click()
    sent.locator("pre.json").first.wait_for()
    assert '"selected_option"' in sent.inner_text() and '"archive"' in sent.inner_text()
    modal.locator(".modal-head button[title=Close]").click()
    page.get_by_test_id("modal-title").filter(has_text="First").wait_for()
    assert problems == []
