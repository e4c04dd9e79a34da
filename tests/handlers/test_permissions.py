"""Permissions end to end (the emulator and the real server): each consequential action is
refused to the wrong person, with why and who can, and done for the right one; responders
are the channel's members; admins come from INCIDENT_ADMINS (user groups expanded); PERMISSIONS
changes who may; declaring and costly commands are rate limited per person."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bot import incidents
from bot.slack.access import REFRESH_SECONDS
from playground.emulator import DriverResult, SlackEmulator
from storage.models import Incident
from storage.models_postmortems import ActionItem
from tests.conftest import Workspace
from tests.handlers.conftest import Room
from tests.handlers.test_postmortems import control_message, postmortem_row
from tests.harness import RunningBot, response_to
from tests.scenarios import declare, must, open_declare_form, submit_declare

pytestmark = pytest.mark.scenario


def current(room: Room, incident: Incident | None = None) -> Incident:
    with room.bot.runtime.services.db.session() as session:
        return incidents.get(session, incident_id=must((incident or room.incident).id))


def roles(room: Room) -> dict[str, str]:
    with room.bot.runtime.services.db.session() as session:
        found = incidents.roles_of(session, incident_id=must(room.incident.id))
    return {role.value: user for role, user in found.items()}


def told(room: Room, result: DriverResult) -> str:
    """What the person was told in answer to a command or a click."""
    text = str(response_to(room.slack, result.response_url)["text"])
    assert "Traceback" not in text
    return text


def dm_saying(slack: SlackEmulator, user: str, text: str) -> str:
    """The direct message to `user` containing `text` (waits for it)."""

    def found() -> list[dict[str, Any]]:
        return [m for m in slack.dms(user) if text in m["text"]]

    return str(slack.wait_for(found)[-1]["text"])


def opens(room: Room, act: Callable[[], object], user: str, callback_id: str) -> dict[str, Any]:
    before = len(room.slack.calls_to("views.open"))
    act()
    room.slack.wait_for("views.open", count=before + 1)
    view = room.slack.modal(user)
    assert view["callback_id"] == callback_id
    return view


def card(room: Room) -> dict[str, Any]:
    message = room.slack.message(room.channel, must(current(room).card_ts))
    assert message is not None
    return message


def refused_to_resolve(text: str, room: Room) -> bool:
    bob, alice = room.ws.bob, room.ws.alice
    return text == (
        f":warning: You cannot resolve incident #1: only the incident manager (<@{bob}>), the "
        f"person who declared it (<@{alice}>) or an incident admin (INCIDENT_ADMINS) can. "
        "Nothing was changed."
    )


# -- resolve and reopen --------------------------------------------------------------------


def test_only_the_manager_the_declarer_or_an_admin_may_resolve(room: Room) -> None:
    ws, driver = room.ws, room.driver
    room.slack.add_members(room.channel, ws.carol)  # a responder, with no role
    opened = len(room.slack.calls_to("views.open"))
    for attempt in (
        lambda: room.command("resolve", user=ws.carol),
        lambda: room.command("status resolved", user=ws.carol),
        lambda: driver.block_actions(
            "incident_resolve", user=ws.carol, message=card(room), channel=room.channel
        ),
        lambda: driver.block_actions(
            "incident_set_status",
            user=ws.carol,
            message=card(room),
            channel=room.channel,
            value="resolved",
        ),
    ):
        assert refused_to_resolve(told(room, attempt()), room)
    assert len(room.slack.calls_to("views.open")) == opened  # no form was opened
    # The manager's resolve form, submitted by Carol: refused, and she is told directly.
    form = opens(room, lambda: room.command("resolve", user=ws.bob), ws.bob, "resolve_modal")
    values = {"resolution": {"resolution": "Rolled back"}}
    assert driver.view_submission(form, values, user=ws.carol).status == 200
    assert refused_to_resolve(dm_saying(room.slack, ws.carol, "You cannot resolve"), room)
    assert current(room).status == "investigating"
    # Other changes are for every responder.
    room.command("status identified", user=ws.carol)
    room.slack.wait_for(lambda: current(room).status == "identified")
    # The manager resolves.
    assert driver.view_submission(form, values, user=ws.bob).status == 200
    room.slack.wait_for(lambda: current(room).status == "resolved")


def test_only_the_manager_the_declarer_or_an_admin_may_reopen(room: Room) -> None:
    ws = room.ws
    room.slack.add_members(room.channel, ws.carol)
    room.command("status resolved", user=ws.bob)
    room.slack.wait_for(lambda: current(room).status == "resolved")
    text = told(room, room.command("status investigating", user=ws.carol))
    assert text.startswith(":warning: You cannot reopen incident #1: only the incident manager")
    assert current(room).status == "resolved"
    room.command("status investigating", user=ws.alice)  # the declarer
    room.slack.wait_for(lambda: current(room).status == "investigating")


# -- the incident manager role -------------------------------------------------------------


def test_only_the_manager_the_declarer_or_an_admin_may_hand_the_manager_role_over(
    room: Room,
) -> None:
    ws, carol = room.ws, room.ws.carol
    room.slack.add_members(room.channel, carol)
    for text in (f"manager <@{carol}|carol>", f"role manager <@{carol}|carol>"):
        refusal = told(room, room.command(text, user=carol))
        assert refusal.startswith(
            ":warning: You cannot hand the incident manager role of incident #1 over: only "
            f"the incident manager (<@{ws.bob}>)"
        )
    # The Assign role form is open to responders; choosing the manager role is not.
    form = opens(
        room,
        lambda: room.driver.block_actions(
            "incident_assign_role", user=carol, message=card(room), channel=room.channel
        ),
        carol,
        "role_modal",
    )
    manager = {"role": {"role": "incident_manager"}, "user": {"user": carol}}
    assert room.driver.view_submission(form, manager, user=carol).status == 200
    dm_saying(room.slack, carol, "You cannot hand the incident manager role")
    assert roles(room)["incident_manager"] == ws.bob
    # Other roles are for every responder.
    room.command(f"role scribe <@{carol}|carol>", user=carol)
    room.slack.wait_for(lambda: roles(room).get("scribe") == carol)
    # The manager hands it over.
    room.command(f"manager <@{carol}|carol>", user=ws.bob)
    room.slack.wait_for(lambda: roles(room)["incident_manager"] == carol)


# -- the post-mortem and action items --------------------------------------------------


def test_only_the_manager_owner_declarer_or_an_admin_may_complete_the_postmortem(
    room: Room,
) -> None:
    ws = room.ws
    room.slack.add_members(room.channel, ws.carol)
    room.command("status resolved", user=ws.bob)
    controls = control_message(room.slack, room.channel)
    incident_id = must(room.incident.id)
    click = room.driver.block_actions(
        "postmortem_complete", user=ws.carol, message=controls, channel=room.channel
    )
    assert told(room, click).startswith(
        ":warning: You cannot mark the post-mortem of incident #1 complete: only the incident "
        f"manager (<@{ws.bob}>), the person who declared it (<@{ws.alice}>), the post-mortem's "
        f"owner (<@{ws.bob}>) or an incident admin"
    )
    pm = postmortem_row(room.bot, incident_id)
    assert pm is not None and pm.completed_at is None
    room.driver.block_actions(
        "postmortem_complete", user=ws.bob, message=controls, channel=room.channel
    )
    room.slack.wait_for(lambda: must(postmortem_row(room.bot, incident_id)).completed_at)


def _items(room: Room) -> dict[str, ActionItem]:
    with room.bot.runtime.services.db.session() as session:
        from sqlmodel import select

        return {i.text: i for i in session.exec(select(ActionItem)).all()}


def test_only_its_owner_the_manager_the_declarer_or_an_admin_may_close_an_item(
    room: Room,
) -> None:
    ws = room.ws
    room.slack.add_members(room.channel, ws.carol)
    told(room, room.command(f"action Fix the pool <@{ws.alice}|alice>", user=ws.bob))
    told(room, room.command(f"action Add an alert <@{ws.carol}|carol>", user=ws.bob))
    listed = response_to(room.slack, room.command("actions", user=ws.carol).response_url)
    first = _items(room)["Fix the pool"]

    def done(user: str, item: ActionItem) -> DriverResult:
        return room.driver.block_actions(
            "action_item_done",
            user=user,
            message=listed,
            channel=room.channel,
            value=str(item.id),
            ephemeral=True,
            block_id=f"ai_inc{room.incident.id}_{item.id}",
        )

    assert told(room, done(ws.carol, first)).startswith(
        ":warning: You cannot close someone else's action item in incident #1: only the item's "
        f"owner (<@{ws.alice}>), the incident manager (<@{ws.bob}>)"
    )
    assert _items(room)["Fix the pool"].state == "open"
    second = _items(room)["Add an alert"]
    done(ws.carol, second)  # her own
    room.slack.wait_for(lambda: _items(room)["Add an alert"].state == "done")
    done(ws.bob, first)  # the manager
    room.slack.wait_for(lambda: _items(room)["Fix the pool"].state == "done")
    assert _items(room)["Fix the pool"].completed_by == ws.bob


# -- responders ----------------------------------------------------------------------------


def test_only_responders_change_an_incident(room: Room) -> None:
    ws, driver = room.ws, room.driver
    opened = len(room.slack.calls_to("views.open"))
    click = driver.block_actions(
        "incident_post_update", user=ws.carol, message=card(room), channel=room.channel
    )
    assert told(room, click) == (
        f":warning: Only responders of incident #1 can change it: join <#{room.channel}> first "
        "(or ask an incident admin). Nothing was changed."
    )
    severity = driver.block_actions(
        "incident_set_severity",
        user=ws.carol,
        message=card(room),
        channel=room.channel,
        value="sev1",
    )
    assert "Only responders of incident #1" in told(room, severity)
    assert len(room.slack.calls_to("views.open")) == opened
    assert current(room).severity == "sev2"
    # Reading is for everyone who may see it.
    assert "Timeline of #1" in str(
        response_to(room.slack, room.command("timeline", user=ws.carol).response_url)
    )
    room.slack.add_members(room.channel, ws.carol)  # Carol joins: a moment later she responds
    time.sleep(REFRESH_SECONDS)  # (a "no" is asked of Slack again at most this often)
    opens(
        room,
        lambda: driver.block_actions(
            "incident_post_update", user=ws.carol, message=card(room), channel=room.channel
        ),
        ws.carol,
        "update_modal",
    )


# -- admins and a configured policy ----------------------------------------------------


def test_admins_from_a_user_group_may_do_everything_without_joining(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    leads = slack.add_usergroup("incident-leads", [workspace.carol])
    bot = start_bot(incident_admins=leads)
    driver = bot.driver(slack)
    incident = declare(
        bot, driver, slack, user=workspace.alice, channel=workspace.general, private=True
    )
    room = Room(bot, driver, slack, workspace, incident)
    assert workspace.carol not in slack.members(room.channel)
    asked = driver.slash_command("list", user=workspace.carol, channel=workspace.general)
    assert "Database is down" in str(response_to(slack, asked.response_url)["blocks"])
    opens(
        room,
        lambda: driver.block_actions(
            "incident_resolve", user=workspace.carol, message=card(room), channel=room.channel
        ),
        workspace.carol,
        "resolve_modal",
    )
    # Bob is neither an admin nor in the channel: the private incident does not exist for him.
    click = driver.block_actions(
        "incident_resolve", user=workspace.bob, message=card(room), channel=room.channel
    )
    assert "does not exist, or it is private" in told(room, click)


def test_permissions_can_give_an_action_to_other_holders(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(permissions="resolve=comms,admins", incident_admins=workspace.alice)
    driver = bot.driver(slack)
    incident = declare(
        bot, driver, slack, user=workspace.alice, channel=workspace.general, manager=workspace.bob
    )
    room = Room(bot, driver, slack, workspace, incident)
    refusal = told(room, room.command("status resolved", user=workspace.bob))
    assert refusal == (
        ":warning: You cannot resolve incident #1: only an incident admin (INCIDENT_ADMINS) "
        "can. Nothing was changed."
    )
    room.slack.add_members(room.channel, workspace.carol)
    room.command(f"role comms <@{workspace.carol}|carol>", user=workspace.bob)
    slack.wait_for(lambda: roles(room).get("comms_lead") == workspace.carol)
    room.command("status resolved", user=workspace.carol)
    slack.wait_for(lambda: current(room).status == "resolved")


# -- rate limits ---------------------------------------------------------------------------


def test_declaring_is_limited_per_person_and_the_form_keeps_what_was_typed(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(rate_limits="declare=2/1m")
    driver = bot.driver(slack)
    alice = workspace.alice
    forms = [open_declare_form(driver, slack, user=alice, channel=workspace.general) for _ in "ab"]
    third = open_declare_form(driver, slack, user=alice, channel=workspace.general)
    for number, form in enumerate(forms, start=1):
        result = submit_declare(driver, form, user=alice, title=f"Outage {number}")
        assert result.status == 200 and not result.body
    refused = submit_declare(driver, third, user=alice, title="Outage 3")
    errors = refused.json["errors"]
    assert list(errors) == ["title"]
    assert errors["title"].startswith("Slow down: at most 2 declarations per minute per person.")
    assert slack.current_view(alice) is not None  # still open, with what Alice typed
    # Opening the form again is refused too, with the same reason; Bob is not limited.
    again = driver.slash_command("declare Outage 4", user=alice, channel=workspace.general)
    assert "Slow down" in str(response_to(slack, again.response_url)["text"])
    open_declare_form(driver, slack, user=workspace.bob, channel=workspace.general)
    with bot.runtime.services.db.session() as session:  # (two declared, in either order)
        titles = sorted(v.incident.title for v in incidents.list_incidents(session))
    assert titles == ["Outage 1", "Outage 2"]


def test_costly_commands_are_limited_per_person(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, workspace: Workspace
) -> None:
    bot = start_bot(rate_limits="costly=2/1h")
    driver = bot.driver(slack)
    answers = [
        response_to(
            slack,
            driver.slash_command(
                "list", user=workspace.carol, channel=workspace.general
            ).response_url,
        )["text"]
        for _ in range(3)
    ]
    assert answers[:2] == ["0 incidents", "0 incidents"]
    assert answers[2].startswith(
        ":warning: Slow down: at most 2 requests like this one per hour per person."
    )
    other = driver.slash_command("list", user=workspace.bob, channel=workspace.general)
    assert response_to(slack, other.response_url)["text"] == "0 incidents"
    help_ = driver.slash_command("help", user=workspace.carol, channel=workspace.general)
    assert "Slow down" not in str(response_to(slack, help_.response_url))
