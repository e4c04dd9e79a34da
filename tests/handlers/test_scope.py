"""Every click and form passes one gate: what it carries must be the bot's own, and belong to
the channel it came from. A refused request is answered with a clear message, nothing else."""

from __future__ import annotations

from functools import partial
from typing import Any

import pytest

from bot import incidents
from storage.models import Incident
from storage.models_postmortems import ActionItem
from tests.handlers.conftest import Room
from tests.harness import response_to
from tests.scenarios import declare, must

pytestmark = pytest.mark.scenario


def _incident(room: Room, incident_id: int) -> Incident:
    with room.bot.runtime.services.db.session() as session:
        return incidents.get(session, incident_id=incident_id)


def _card(room: Room, incident: Incident) -> dict[str, Any]:
    message = room.slack.message(must(incident.channel_id), must(incident.card_ts))
    assert message is not None
    return message


def _refusal(room: Room, response_url: str | None) -> str:
    text = str(response_to(room.slack, response_url)["text"])
    assert text.startswith(":warning:") and "Traceback" not in text
    return text


def _dms_with(room: Room, user: str, text: str) -> list[dict[str, Any]]:
    return [m for m in room.slack.dms(user) if text in m["text"]]


def test_a_card_control_used_in_another_incidents_channel_changes_nothing(room: Room) -> None:
    other = declare(
        room.bot, room.driver, room.slack, user=room.ws.carol, channel=room.ws.general, title="DNS"
    )
    card = _card(room, room.incident)  # incident #1's card, clicked in #2's channel
    opened = len(room.slack.calls_to("views.open"))
    for action_id, value in (
        ("incident_set_status", "resolved"),
        ("incident_set_severity", "sev1"),
        ("incident_resolve", None),
        ("incident_post_update", None),
    ):
        click = room.driver.block_actions(
            action_id, user=room.ws.bob, message=card, channel=must(other.channel_id), value=value
        )
        assert click.status == 200
        assert "about another incident than this channel's (#2)" in _refusal(
            room, click.response_url
        )
    assert len(room.slack.calls_to("views.open")) == opened
    for incident in (room.incident, other):
        current = _incident(room, must(incident.id))
        assert (current.status, current.severity) == ("investigating", "sev2")


def test_garbled_and_stale_values_get_a_clear_error(room: Room) -> None:
    card = _card(room, room.incident)
    opened = len(room.slack.calls_to("views.open"))
    garbled = room.driver.block_actions(
        "incident_post_update", user=room.ws.bob, message=card, channel=room.channel, value="1; x"
    )
    assert "not one the incident bot made" in _refusal(room, garbled.response_url)
    gone = room.driver.block_actions(
        "incident_set_status",
        user=room.ws.bob,
        message=card,
        channel=room.channel,
        value="resolved",
        block_id="incident_card_999",
    )
    assert "Incident 999 does not exist" in _refusal(room, gone.response_url)
    assert len(room.slack.calls_to("views.open")) == opened
    assert _incident(room, must(room.incident.id)).status == "investigating"


def test_a_forged_list_cannot_show_another_incidents_items(room: Room) -> None:
    other = declare(
        room.bot, room.driver, room.slack, user=room.ws.carol, channel=room.ws.general, title="DNS"
    )
    bob = room.ws.bob
    room.command(f"action Fix the pool <@{bob}|bob>", user=bob)
    listed = response_to(room.slack, room.command("actions", user=bob).response_url)
    # Item 1 (incident #1) shown as if on incident #2's list, in #1's channel, then in #2's.
    for channel, expected in (
        (room.channel, "about another incident than this channel's (#1)"),
        (must(other.channel_id), "does not match its incident"),
    ):
        click = room.driver.block_actions(
            "action_item_done",
            user=bob,
            message=listed,
            channel=channel,
            value="1",
            ephemeral=True,
            block_id=f"ai_inc{other.id}_1",
        )
        assert expected in _refusal(room, click.response_url)
    assert not [r for r in room.slack.responses if r["body"].get("replace_original")]
    with room.bot.runtime.services.db.session() as session:
        assert session.get(ActionItem, 1).state == "open"  # type: ignore[union-attr]


def test_forged_or_garbled_form_metadata_is_refused_and_the_person_told(room: Room) -> None:
    alice = room.ws.alice
    room.command("update", user=alice)
    room.slack.wait_for("views.open", count=2)
    form = room.slack.modal(alice)
    values = {"message": {"message": "Rolled back"}}
    for metadata, expected in (
        ('{"incident_id":999}', "Incident 999 does not exist"),
        ("not json", "That form is not one the incident bot made"),
    ):
        forged = {**form, "private_metadata": metadata}
        result = room.driver.view_submission(forged, values, user=alice)
        assert result.status == 200 and not result.body  # the form closes
        told = room.slack.wait_for(partial(_dms_with, room, alice, expected))
        assert told[-1]["text"].startswith(":warning:")
    assert "Rolled back" not in str(room.slack.messages(room.channel))
