"""Every listener declares what its requests do, so the one gate can decide; a request nobody
declared reaches no listener."""

from __future__ import annotations

import logging

import pytest
from slack_bolt import App

import handlers
from blocks.ids import Action, Callback
from bot.core import commands
from bot.permissions import Permission
from bot.rate_limits import COSTLY, DECLARE, OPENS_DECLARE
from handlers import access
from handlers.commands import ROUTES
from playground.emulator import SlackDriver, SlackEmulator
from tests.conftest import Workspace
from tests.harness import RunningBot

FORMS = {c for c in Callback if c.value.endswith("_modal")} | {Callback.TIMELINE_PICK_MODAL}
SHORTCUTS = set(Callback) - FORMS


@pytest.fixture(scope="module")
def declared() -> dict[str, access.Need]:
    app = App(token="xoxb-x", signing_secret="s", token_verification_enabled=False)
    handlers.register_all(app, None)  # type: ignore[arg-type]  # (no request is served)
    return access.declared()


def test_every_control_form_shortcut_and_command_declares_what_it_does(
    declared: dict[str, access.Need],
) -> None:
    for action in Action:
        if action is Action.SNOOZE_REMINDER:
            assert access.need_of("button reminder_snooze_15") is not None
            continue
        assert f"button {action.value}" in declared, action
    for form in FORMS:
        assert f"form {form.value}" in declared, form
    for shortcut in SHORTCUTS:
        assert f"shortcut {shortcut.value}" in declared, shortcut
    assert set(ROUTES) == {sub.name for sub in commands.catalogue()}
    for name in ROUTES:
        assert f"/incident {name}" in declared, name


def test_what_the_consequential_and_costly_requests_declare(
    declared: dict[str, access.Need],
) -> None:
    def need(request: str) -> access.Need:
        return declared[request]

    assert need("button incident_resolve").permission is Permission.RESOLVE
    assert need("form resolve_modal").permission is Permission.RESOLVE
    assert need("/incident resolve").permission is Permission.RESOLVE
    assert need("/incident manager").permission is Permission.MANAGER
    assert need("button postmortem_complete").permission is Permission.COMPLETE_POSTMORTEM
    assert need("button action_item_done").permission is Permission.CLOSE_ITEM
    assert need("form declare_modal").cost == DECLARE
    for opener in ("/incident declare", "shortcut declare_incident", "button home_declare"):
        assert need(opener).cost == OPENS_DECLARE
    for costly in ("/incident list", "/incident postmortem", "button timeline_download"):
        assert need(costly).cost == COSTLY
    # The rest of the changes are for responders; reading needs seeing.
    assert need("button incident_post_update").permission is Permission.RESPOND
    assert need("/incident timeline").permission is Permission.SEE
    assert need("/incident help").permission is Permission.ANYONE


@pytest.mark.scenario
def test_a_request_no_listener_declared_reaches_none(
    bot: RunningBot,
    driver: SlackDriver,
    slack: SlackEmulator,
    workspace: Workspace,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="handlers.scope"):
        click = driver.block_actions(
            "made_up_button", user=workspace.alice, channel=workspace.general
        )
        assert click.status == 200 and not click.body  # answered once kept, processed after
        slack.wait_for(lambda: "no listener declared 'button made_up_button'" in caplog.text)
    assert not slack.responses and not slack.dms(workspace.alice)
