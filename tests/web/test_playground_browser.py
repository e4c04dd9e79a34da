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
    page.locator("#tabs button[data-tab=mail]").click()
    page.locator("#tab-mail details.mail").first.wait_for()
    _shot(page, shots, "8-inspector-and-mail")
    assert problems == []
    assert time.monotonic() - started < 60


def test_the_console_and_status_page_links_work(browser: Any, playground: PlaygroundBot) -> None:
    page = browser.new_page()
    page.set_default_timeout(15_000)
    page.goto(playground.session.url)
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
