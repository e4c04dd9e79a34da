"""Public status page updates on Mastodon, only after the incident manager approves, end to end:
the emulator, the real bot, the fake Mastodon API (tests/fake_providers.py). A preview with
Post / Edit / Skip in the incident channel; nothing is posted before the manager decides;
others are refused; a double click posts once; Edit checks Mastodon's 500 characters; Skip
is recorded; the preview is updated in place with the outcome and who decided; a 429 and a
500 are retried under the same Idempotency-Key."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from blocks.ids import Action
from playground.emulator import SlackDriver, SlackEmulator
from storage.models_stakeholders import StakeholderNotice
from tests.conftest import Workspace
from tests.fake_providers import MASTODON_TOKEN, FakeProviders
from tests.harness import RunningBot
from tests.scenarios import declare, must
from tests.statuspage_fixtures import page_file

pytestmark = pytest.mark.scenario

BUTTONS = [Action.SOCIAL_POST.value, Action.SOCIAL_EDIT.value, Action.SOCIAL_SKIP.value]


@pytest.fixture
def fakes() -> Iterator[FakeProviders]:
    with FakeProviders() as server:
        yield server


@pytest.fixture
def social_bot(
    start_bot: Callable[..., RunningBot], workspace: Workspace, tmp_path: Path, fakes: FakeProviders
) -> RunningBot:
    return start_bot(
        status_page_file=page_file(tmp_path),
        mastodon_api_url=fakes.url,
        mastodon_access_token=MASTODON_TOKEN,
        scheduler_tick_seconds=0.5,
    )


def buttons(message: dict[str, Any]) -> list[str]:
    return [
        e["action_id"]
        for b in message.get("blocks") or []
        if b.get("type") == "actions"
        for e in b.get("elements", [])
    ]


def previews(slack: SlackEmulator, channel: str) -> list[dict[str, Any]]:
    return [m for m in slack.messages(channel) if "Mastodon post for incident" in m.get("text", "")]


def new_preview(slack: SlackEmulator, channel: str, count: int) -> dict[str, Any]:
    found = slack.wait_for(
        lambda: len(previews(slack, channel)) >= count and previews(slack, channel)
    )
    assert len(found) == count
    return found[-1]


def current(slack: SlackEmulator, channel: str, ts: str) -> dict[str, Any]:
    return must(slack.message(channel, ts))


def changed_to(
    slack: SlackEmulator, channel: str, ts: str, words: str, timeout: float = 5
) -> dict[str, Any]:
    return slack.wait_for(
        lambda: words in str(current(slack, channel, ts)["blocks"]) and current(slack, channel, ts),
        timeout=timeout,
    )


def publish(driver: SlackDriver, user: str, channel: str, message: str) -> None:
    driver.slash_command(f"statuspage {message}", user=user, channel=channel)


def test_posted_only_after_the_manager_approves_and_once(
    social_bot: RunningBot, slack: SlackEmulator, workspace: Workspace, fakes: FakeProviders
) -> None:
    driver = social_bot.driver(slack)
    alice, bob = workspace.alice, workspace.bob
    incident = declare(social_bot, driver, slack, user=alice, channel=workspace.general)
    channel = must(incident.channel_id)
    slack.add_members(channel, bob)
    publish(driver, alice, channel, "Card payments fail for some customers.")
    preview = new_preview(slack, channel, 1)
    assert buttons(preview) == BUTTONS
    text = str(preview["blocks"])
    assert f"<@{alice}>" in text and "Card payments fail for some customers." in text
    assert "https://status.acme.example/status/incidents/" in text
    time.sleep(1.5)  # several ticks of the notice loop: nothing goes out unapproved
    assert fakes.calls_to("mastodon") == []

    # A responder who is not the incident manager is refused; nothing changes.
    opened = len(slack.calls_to("views.open"))
    for action in BUTTONS:
        driver.block_actions(action, user=bob, message=preview, channel=channel)
    slack.wait_for(
        lambda: (
            sum(
                "decide on Mastodon posts about incident #1" in r["body"].get("text", "")
                for r in slack.responses
            )
            == 3
        )
    )
    assert len(slack.calls_to("views.open")) == opened and fakes.calls_to("mastodon") == []
    assert buttons(current(slack, channel, preview["ts"])) == BUTTONS

    # The manager double-clicks Post: one status on Mastodon.
    driver.block_actions(Action.SOCIAL_POST, user=alice, message=preview, channel=channel)
    driver.block_actions(Action.SOCIAL_POST, user=alice, message=preview, channel=channel)
    done = changed_to(slack, channel, preview["ts"], "Posted to Mastodon by")
    assert f"<@{alice}>" in str(done["blocks"]) and buttons(done) == []
    assert "https://social.example/@acme/" in str(done["blocks"])
    [posted] = fakes.posted
    assert posted["text"].startswith(
        "Database is down: Investigating. Card payments fail for some customers.\n\n"
        "https://status.acme.example/status/incidents/"
    )
    [call] = fakes.calls_to("mastodon")
    with social_bot.runtime.services.db.read() as session:
        row = session.exec(
            select(StakeholderNotice).where(StakeholderNotice.channel == "mastodon")
        ).one()
    assert call.headers["idempotency-key"] == row.key
    assert call.headers["authorization"] == f"Bearer {MASTODON_TOKEN}"
    assert (row.state, row.requested_by) == ("sent", alice)
    assert len(previews(slack, channel)) == 1  # updated in place, not posted again


def test_edit_checks_the_length_skip_is_recorded_and_failures_are_retried(
    social_bot: RunningBot, slack: SlackEmulator, workspace: Workspace, fakes: FakeProviders
) -> None:
    driver = social_bot.driver(slack)
    alice = workspace.alice
    incident = declare(social_bot, driver, slack, user=alice, channel=workspace.general)
    channel = must(incident.channel_id)

    publish(driver, alice, channel, "We are looking into slow checkouts.")
    first = new_preview(slack, channel, 1)
    driver.block_actions(Action.SOCIAL_SKIP, user=alice, message=first, channel=channel)
    skipped = changed_to(slack, channel, first["ts"], "Skipped by")
    assert f"<@{alice}>" in str(skipped["blocks"]) and buttons(skipped) == []
    # A late click on Post finds it decided: still nothing posted.
    driver.block_actions(Action.SOCIAL_POST, user=alice, message=first, channel=channel)
    slack.wait_for(
        lambda: (
            any("decided already" in r["body"].get("text", "") for r in slack.responses)
            or any("decided already" in m.get("text", "") for m in slack.ephemerals(user=alice))
        )
    )
    assert fakes.calls_to("mastodon") == []

    publish(driver, alice, channel, "Checkout recovers.")
    second = new_preview(slack, channel, 2)
    opened = len(slack.calls_to("views.open"))
    driver.block_actions(Action.SOCIAL_EDIT, user=alice, message=second, channel=channel)
    slack.wait_for("views.open", count=opened + 1)
    form = must(slack.modal(alice))
    assert "Checkout recovers." in str(form["blocks"])
    too_long = driver.view_submission(form, {"text": {"text": "x" * 501}}, user=alice)
    assert too_long.json["response_action"] == "errors"
    assert "at most 500 characters" in too_long.json["errors"]["text"]
    # Links count 23 characters, as on Mastodon: this one fits.
    edited = "Checkout is back to normal. " + "y" * 440 + " https://example.com/" + "z" * 200
    fakes.fail("mastodon", 429)
    fakes.fail("mastodon", 500)
    ok = driver.view_submission(form, {"text": {"text": edited}}, user=alice)
    assert ok.status == 200 and not ok.json, ok.body
    # Retried after the 429's X-RateLimit-Reset and the back-off: 2 s, then 4 s.
    changed_to(slack, channel, second["ts"], "Posted to Mastodon by", timeout=30)
    assert [p["text"] for p in fakes.posted] == [edited]
    statuses = [c.status for c in fakes.calls_to("mastodon")]
    assert statuses == [429, 500, 200]
    keys = {c.headers["idempotency-key"] for c in fakes.calls_to("mastodon")}
    assert len(keys) == 1  # the same key on every attempt
    # The first preview still says it was skipped.
    assert "Skipped by" in str(current(slack, channel, first["ts"])["blocks"])
