"""Private means private, end to end: someone outside a private incident's channel finds it in
no list, App Home or picker, cannot add to it through the shortcuts, does not get its items in
`/incident actions mine`, cannot be made to own work in it, and the broadcast channel never
hears of it. Its members and incident admins see it everywhere."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import select

from bot.slack.access import REFRESH_SECONDS
from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_postmortems import ActionItem
from storage.models_timeline import TimelineEntry
from tests.conftest import Workspace
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, must

pytestmark = pytest.mark.scenario

SECRET, OPEN = "Credential leak", "API is slow"


@dataclass
class Two:
    """A private incident (#1: Alice declared it, Bob manages it) and a public one (#2)."""

    bot: RunningBot
    driver: SlackDriver
    slack: SlackEmulator
    ws: Workspace
    secret: Incident
    public: Incident
    broadcast: str

    def answer(self, text: str, *, user: str, channel: str | None = None) -> dict[str, Any]:
        result = self.driver.slash_command(text, user=user, channel=channel or self.ws.general)
        body: dict[str, Any] = response_to(self.slack, result.response_url)
        return body


@pytest.fixture
def two(start_bot: Any, slack: SlackEmulator, workspace: Workspace) -> Two:
    broadcast = slack.add_channel("incidents")
    # Answers about who is in a channel are not reused here, so a member who leaves is out at
    # once (by default a "yes" is reused for ACCESS_CACHE_SECONDS).
    bot = start_bot(incident_broadcast_channel="#incidents", access_cache_seconds=0)
    driver = bot.driver(slack)
    ws = workspace
    secret = declare(
        bot, driver, slack, user=ws.alice, channel=ws.general, title=SECRET,
        manager=ws.bob, private=True,
    )  # fmt: skip
    public = declare(bot, driver, slack, user=ws.alice, channel=ws.general, title=OPEN)
    return Two(bot, driver, slack, ws, secret, public, broadcast)


def _text(body: dict[str, Any]) -> str:
    return str(body.get("blocks")) + str(body.get("text"))


def test_lists_and_the_app_home_show_it_only_to_members_and_admins(two: Two) -> None:
    ws = two.ws
    for scope in ("list", "list all"):
        outside = _text(two.answer(scope, user=ws.carol))
        assert OPEN in outside and SECRET not in outside and "#1" not in outside
        inside = _text(two.answer(scope, user=ws.bob))
        assert OPEN in inside and SECRET in inside
    assert two.answer("list", user=ws.carol)["text"] == "1 incidents"  # counts reveal nothing
    for user, sees in ((ws.carol, False), (ws.bob, True)):
        before = len(two.slack.calls_to("views.publish"))
        two.driver.app_home_opened(user)
        two.slack.wait_for("views.publish", count=before + 1)
        home = str(must(two.slack.home(user))["blocks"])
        assert OPEN in home and (SECRET in home) is sees


def _shortcut_form(two: Two, callback_id: str, user: str) -> dict[str, Any]:
    ts = two.driver.user_posts(user, two.ws.random, "Customers report errors")
    message = must(two.slack.message(two.ws.random, ts))
    before = len(two.slack.calls_to("views.open"))
    two.driver.message_shortcut(callback_id, user=user, channel=two.ws.random, message=message)
    two.slack.wait_for("views.open", count=before + 1)
    return two.slack.modal(user)


def _options(form: dict[str, Any]) -> list[str]:
    for block in form["blocks"]:
        if block.get("block_id") == "incident":
            return [o["text"]["text"] for o in block["element"]["options"]]
    raise AssertionError("no incident picker")


def _dm(two: Two, user: str, text: str) -> str:
    def found() -> list[dict[str, Any]]:
        return [m for m in two.slack.dms(user) if text in m["text"]]

    return str(two.slack.wait_for(found)[-1]["text"])


def test_the_shortcuts_neither_offer_it_nor_add_to_it_for_outsiders(two: Two) -> None:
    ws, secret_id = two.ws, str(two.secret.id)
    two.slack.add_members(must(two.public.channel_id), ws.carol)  # a responder of #2 only
    pick = _shortcut_form(two, "add_to_timeline", ws.carol)
    assert pick["callback_id"] == "timeline_pick_incident"
    assert len(_options(pick)) == 1 and OPEN in _options(pick)[0]
    # A forged choice of the private incident is refused, and nothing is added.
    forged = two.driver.view_submission(pick, {"incident": {"incident": secret_id}}, user=ws.carol)
    assert forged.status == 200
    told = _dm(two, ws.carol, "does not exist")
    assert told.startswith(f":warning: Incident {secret_id} does not exist, or it is private")
    item_form = _shortcut_form(two, "create_action_item", ws.carol)
    assert item_form["callback_id"] == "action_item_modal"
    assert len(_options(item_form)) == 1 and OPEN in _options(item_form)[0]
    values = {"text": {"text": "Rotate every key"}, "incident": {"incident": secret_id}}
    two.driver.view_submission(item_form, values, user=ws.carol)
    two.slack.wait_for(
        lambda: len([m for m in two.slack.dms(ws.carol) if "exist" in m["text"]]) == 2
    )
    with two.bot.runtime.services.db.session() as session:
        assert session.exec(select(ActionItem)).all() == []
        entries = session.exec(
            select(TimelineEntry).where(TimelineEntry.incident_id == two.secret.id)
        ).all()
    assert all(e.added_via != "shortcut" for e in entries)
    assert "Rotate every key" not in str(two.slack.messages(must(two.secret.channel_id)))
    # A member of the private incident is offered it (and not #2, whose channel he is not in).
    offered = _options(_shortcut_form(two, "add_to_timeline", ws.bob))
    assert len(offered) == 1 and SECRET in offered[0]


def test_outsiders_do_not_own_its_work_nor_see_its_items(two: Two) -> None:
    ws, room = two.ws, must(two.secret.channel_id)
    refused = two.answer(f"action Rotate the keys <@{ws.carol}|carol>", user=ws.bob, channel=room)
    assert refused["text"] == (
        f":warning: <@{ws.carol}> is not in the channel of incident #1, which is private, so "
        "they could not see it. Invite them first, or choose someone in it."
    )
    two.slack.add_members(room, ws.carol)
    time.sleep(REFRESH_SECONDS)  # (a "no" is asked of Slack again at most this often)
    created = two.answer(f"action Rotate the keys <@{ws.carol}|carol>", user=ws.bob, channel=room)
    assert "Created action item *AI-1*" in created["text"]
    assert "Rotate the keys" in _text(two.answer("actions mine", user=ws.carol))
    two.slack.remove_members(room, ws.carol)  # Carol leaves the private channel
    mine = _text(two.answer("actions mine", user=ws.carol))
    assert "Rotate the keys" not in mine and "no open action items" in mine


def test_the_broadcast_channel_never_hears_of_it(two: Two) -> None:
    ws, room = two.ws, must(two.secret.channel_id)
    two.driver.slash_command("severity sev1", user=ws.bob, channel=room)
    two.driver.slash_command("status identified", user=ws.bob, channel=room)
    two.driver.slash_command("status resolved", user=ws.bob, channel=room)

    def resolved() -> bool:
        with two.bot.runtime.services.db.session() as session:
            return session.get(Incident, two.secret.id).status == "resolved"  # type: ignore[union-attr]

    two.slack.wait_for(resolved)
    two.slack.wait_for(lambda: "Resolved" in two.slack.channel(room)["topic"]["value"])
    heard = str(two.slack.messages(two.broadcast, include_replies=True, include_system=True))
    assert OPEN in heard and SECRET not in heard and room not in heard
    with two.bot.runtime.services.db.session() as session:
        secret = must(session.get(Incident, two.secret.id))
    assert secret.broadcast_ts is None and secret.broadcast_channel_id is None
