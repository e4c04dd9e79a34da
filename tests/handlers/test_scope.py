"""Every click and form passes one gate: what it carries must be the bot's own, and belong to
the channel it came from, and name an incident the person may see. A refused request is
answered with a clear message, nothing else."""

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
    added = room.command(f"action Fix the pool <@{bob}|bob>", user=bob)
    # Answered once the item exists (commands are processed in parallel: without this wait
    # the list could be made first, and the click below find no item at all).
    assert "AI-1" in response_to(room.slack, added.response_url)["text"]
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


# Every kind of payload that names an incident, forged to name another one (`%s`: its id).
BUTTONS: list[tuple[str, str | None, str | None]] = [  # (action id, value, block id)
    ("incident_post_update", "%s", None),
    ("incident_assign_role", "%s", None),
    ("incident_resolve", "%s", None),
    ("incident_retry_setup", "%s", None),
    ("timeline_download", "%s", None),
    ("postmortem_edit", "%s", None),
    ("postmortem_complete", "%s", None),
    ("timeline_earlier", "%s:0", None),
    ("timeline_later", "%s:1", None),
    ("reminder_snooze_15", "%s:15", None),
    ("incident_set_status", "resolved", "incident_card_%s"),
    ("incident_set_severity", "sev1", "incident_card_%s"),
]
FORMS = {
    "update_modal": {"message": {"message": "Leaked"}},
    "resolve_modal": {"resolution": {"resolution": "Leaked"}},
    "role_modal": {"role": {"role": "scribe"}},
    "postmortem_modal": {"summary": {"summary": "Leaked"}},
}


def _secret(room: Room) -> Incident:
    """Incident #2: private, declared and managed by Alice; Carol is not in its channel."""
    return declare(
        room.bot, room.driver, room.slack, user=room.ws.alice, channel=room.ws.general,
        title="Credential leak", private=True,
    )  # fmt: skip


def _unchanged(room: Room, incident: Incident) -> None:
    now = _incident(room, must(incident.id))
    assert (now.status, now.severity) == (incident.status, incident.severity)
    with room.bot.runtime.services.db.session() as session:
        roles = incidents.roles_of(session, incident_id=must(incident.id))
    assert list(roles.values()) == [room.ws.alice]


def _fill(template: str | None, incident_id: int | None) -> str | None:
    return template % incident_id if template and "%s" in template else template


def test_every_button_naming_another_incident_is_refused_in_an_incident_channel(
    room: Room,
) -> None:
    secret = _secret(room)
    opened = len(room.slack.calls_to("views.open"))
    for action_id, value, block_id in BUTTONS:
        click = room.driver.block_actions(
            action_id,
            user=room.ws.bob,
            channel=room.channel,
            value=_fill(value, secret.id),
            block_id=_fill(block_id, secret.id),
        )
        refusal = _refusal(room, click.response_url)
        assert "is about another incident than this channel's (#1)" in refusal, action_id
    assert len(room.slack.calls_to("views.open")) == opened
    _unchanged(room, secret)


def test_every_button_naming_a_private_incident_is_refused_to_outsiders_anywhere(
    room: Room,
) -> None:
    secret = _secret(room)
    carol = room.ws.carol
    dm = room.slack.dm_channel_id(carol)
    with room.bot.runtime.services.db.session() as session:
        item = ActionItem(
            incident_id=must(secret.id), text="Rotate keys", owner=room.ws.alice,
            via="command", created_by=room.ws.alice,
        )  # fmt: skip
        session.add(item)
        session.flush()
        item_id = must(item.id)
    opened = len(room.slack.calls_to("views.open"))
    for action_id, value, block_id in [*BUTTONS, ("action_item_done", str(item_id), None)]:
        click = room.driver.block_actions(
            action_id,
            user=carol,
            channel=dm,  # a direct message: no channel of its own to match
            value=_fill(value, secret.id),
            block_id=_fill(block_id, secret.id),
        )
        refusal = _refusal(room, click.response_url)
        assert f"Incident {secret.id} does not exist, or it is private" in refusal, action_id
        assert "Credential leak" not in refusal
    assert len(room.slack.calls_to("views.open")) == opened
    _unchanged(room, secret)
    with room.bot.runtime.services.db.session() as session:
        assert must(session.get(ActionItem, item_id)).state == "open"


def test_every_form_naming_another_incident_is_refused(room: Room) -> None:
    secret = _secret(room)
    carol = room.ws.carol
    room.slack.add_members(room.channel, carol)  # a responder of #1, outside #2
    room.command("update", user=carol)
    form = room.slack.wait_for(lambda: room.slack.current_view(carol))
    for callback_id, values in FORMS.items():
        forged = {
            **form,
            "callback_id": callback_id,
            "private_metadata": f'{{"incident_id":{secret.id}}}',
        }
        assert room.driver.view_submission(forged, values, user=carol).status == 200
    expected = f"Incident {secret.id} does not exist, or it is private"
    room.slack.wait_for(lambda: len(_dms_with(room, carol, expected)) == len(FORMS))
    # An action-item form from #1's channel that names #2.
    metadata = f'{{"channel":"{room.channel}","incident_id":{secret.id}}}'
    item_form = {**form, "callback_id": "action_item_modal", "private_metadata": metadata}
    room.driver.view_submission(item_form, {"text": {"text": "Leaked"}}, user=carol)
    room.slack.wait_for(
        partial(_dms_with, room, carol, "about another incident than this channel's")
    )
    _unchanged(room, secret)
    assert "Leaked" not in str(room.slack.messages(must(secret.channel_id), include_replies=True))
    with room.bot.runtime.services.db.session() as session:
        assert session.get(ActionItem, 1) is None
