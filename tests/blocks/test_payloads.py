"""What messages and forms carry back: one shape each, read back exactly, bad input refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from blocks.action_items import followup_blocks, list_blocks, owner_blocks
from blocks.incident import card_blocks, setup_failed_blocks
from blocks.modals import declare_modal, resolve_modal, role_modal, update_modal
from blocks.payloads import (
    ID_MAX,
    METADATA_MAX,
    VALUE_MAX,
    ActionItemForm,
    CardBlockId,
    DeclareOrigin,
    FollowUpKeyBlockId,
    IncidentForm,
    IncidentValue,
    ItemValue,
    ListBlockId,
    PageValue,
    Payload,
    PayloadError,
    ReminderKeyBlockId,
    SharedMessage,
    SnoozeValue,
    of_action,
    of_view,
)
from blocks.postmortems import document_blocks, postmortem_modal
from blocks.reminders import reminder_blocks
from blocks.timeline import timeline_blocks
from bot.core.vocabulary import Role
from bot.followups import Subject
from bot.followups.claims import Outgoing as FollowUp
from bot.followups.policy import Kind as FollowUpKind
from bot.incidents import IncidentView
from bot.reminders.claims import Outgoing
from bot.reminders.policy import Kind
from storage.models import Incident
from storage.models_postmortems import ActionItem, PostMortem

BIG = 10**15 - 1  # the largest id the numeric shapes read (15 digits)
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _view(incident_id: int = 12) -> IncidentView:
    incident = Incident(
        id=incident_id,
        number=3,
        title="Checkout is down",
        severity="sev2",
        status="investigating",
        declared_by="UALICE",
        declare_key="k",
        declared_at=NOW,
        channel_id="C0INC",
    )
    return IncidentView(incident=incident, roles={Role.INCIDENT_MANAGER: "UALICE"})


def _elements(blocks: list[Any]) -> list[tuple[str | None, dict[str, Any]]]:
    """Every interactive element with the block id of the block it is in."""
    found = []
    for block in (b if isinstance(b, dict) else b.to_dict() for b in blocks):
        for element in [*block.get("elements", []), block.get("accessory") or {}]:
            if element.get("action_id"):
                found.append((block.get("block_id"), element))
    return found


def _clicks(blocks: list[Any]) -> list[Payload | None]:
    """What a click on each control of `blocks` carries, read as the listeners read it."""
    return [
        of_action({"action_id": e["action_id"], "value": e.get("value"), "block_id": block_id})
        for block_id, e in _elements(blocks)
    ]


# -- the builders write what the listeners read ---------------------------------------------


def test_every_control_on_the_card_and_the_setup_notice_names_its_incident() -> None:
    clicks = _clicks(card_blocks(_view()))
    assert len(clicks) == 5
    assert {type(c) for c in clicks} == {IncidentValue, CardBlockId}
    assert {c.incident_ref for c in clicks if c is not None} == {12}
    assert _clicks(setup_failed_blocks(_view(), "x")) == [IncidentValue(incident_id=12)]


def test_timeline_pages_turn_and_download() -> None:
    blocks = timeline_blocks(_view(), [], total=100, page=1, per_page=30)
    assert _clicks(blocks) == [
        PageValue(incident_id=12, page=0),
        PageValue(incident_id=12, page=2),
        IncidentValue(incident_id=12),
    ]


def test_reminder_buttons_and_snoozes() -> None:
    out = Outgoing(
        reminder_id=1,
        kind=Kind.UPDATE,
        key="0123abcd",
        due_at=NOW,
        incident_id=12,
        number=3,
        title="Checkout is down",
        severity=_view().severity,
        channel_id="C0INC",
        manager="UBOB",
        since=NOW,
        nudge_number=1,
        check_first=False,
        pending_since=NOW,
    )
    blocks = [b.to_dict() for b in reminder_blocks(out, now=NOW)]
    assert _clicks(blocks) == [
        IncidentValue(incident_id=12),
        SnoozeValue(incident_id=12, minutes=15),
        SnoozeValue(incident_id=12, minutes=30),
        SnoozeValue(incident_id=12, minutes=60),
    ]
    assert ReminderKeyBlockId.find({"blocks": blocks}) == "0123abcd"


def test_action_item_lists_messages_and_follow_ups() -> None:
    item = ActionItem(
        id=7, incident_id=12, text="Rotate", owner="UBOB", created_by="UBOB", via="command"
    )
    mine = list_blocks([(item, None)], heading="h", empty="e", today=NOW.date(), incident_id=None)
    ours = list_blocks([(item, None)], heading="h", empty="e", today=NOW.date(), incident_id=12)
    assert _clicks(mine) == [ListBlockId(incident_id=None, item_id=7)]
    assert _clicks(ours) == [ListBlockId(incident_id=12, item_id=7)]
    assert _clicks(ours)[0].incident_ref == 12  # type: ignore[union-attr]
    assert _clicks(owner_blocks(item, _view().incident, actor="UALICE")) == [ItemValue(item_id=7)]
    subject = Subject(
        kind=FollowUpKind.POSTMORTEM,
        subject_id=5,
        incident_id=12,
        number=3,
        title="Checkout is down",
        channel_id="C0INC",
        recipient="UBOB",
        due_on=NOW.date(),
        is_open=True,
    )
    reminder = FollowUp(
        reminder_id=1,
        key="postmortem-5-20260302",
        subject=subject,
        recipient="UBOB",
        days_late=0,
    )
    blocks = followup_blocks(reminder)
    assert _clicks(blocks) == [IncidentValue(incident_id=12), IncidentValue(incident_id=12)]
    message = {"blocks": [b.to_dict() for b in blocks]}
    assert FollowUpKeyBlockId.find(message) == "postmortem-5-20260302"


def test_the_postmortem_message_and_every_form_name_their_incident() -> None:
    pm = PostMortem(id=1, incident_id=12, version=1)
    assert _clicks(document_blocks(_view(), pm, owner=None)) == [IncidentValue(incident_id=12)] * 2
    forms = [
        update_modal(_view()),
        resolve_modal(_view()),
        role_modal(_view()),
        postmortem_modal(_view(), prefill={}, owner=None, due_on=None),
    ]
    for form in forms:
        assert of_view(form.to_dict()) == IncidentForm(incident_id=12)
    origin = DeclareOrigin(channel="C1", ts="1.2", permalink="https://x.slack.com/p1")
    assert of_view(declare_modal(user_id="U1", origin=origin).to_dict()) == origin
    assert of_view(declare_modal(user_id="U1").to_dict()) == DeclareOrigin()


# -- what is already in Slack still reads ---------------------------------------------------


@pytest.mark.parametrize(
    ("action", "expected"),
    [
        ({"action_id": "incident_post_update", "value": "12"}, IncidentValue(incident_id=12)),
        ({"action_id": "incident_retry_setup", "value": "12"}, IncidentValue(incident_id=12)),
        (
            {"action_id": "incident_set_status", "block_id": "incident_card_12"},
            CardBlockId(incident_id=12),
        ),
        ({"action_id": "timeline_later", "value": "12:3"}, PageValue(incident_id=12, page=3)),
        (
            {"action_id": "reminder_snooze_30", "value": "12:30"},
            SnoozeValue(incident_id=12, minutes=30),
        ),
        (
            {"action_id": "action_item_done", "value": "7", "block_id": "action_item_dm_7"},
            ItemValue(item_id=7),
        ),
        (
            {"action_id": "action_item_done", "value": "7", "block_id": "followup_actions_4"},
            ItemValue(item_id=7),
        ),
        (
            {"action_id": "action_item_done", "value": "7", "block_id": "ai_inc12_7"},
            ListBlockId(incident_id=12, item_id=7),
        ),
        (
            {"action_id": "action_item_done", "value": "7", "block_id": "ai_mine_7"},
            ListBlockId(incident_id=None, item_id=7),
        ),
        ({"action_id": "home_declare"}, None),
    ],
)
def test_values_written_before_this_version_still_read(
    action: dict[str, Any], expected: Payload | None
) -> None:
    assert of_action(action) == expected


@pytest.mark.parametrize(
    ("callback_id", "metadata", "expected"),
    [
        ("update_modal", '{"incident_id":12}', IncidentForm(incident_id=12)),
        ("declare_modal", "{}", DeclareOrigin()),
        (
            "declare_modal",
            '{"channel":"C1","ts":"1.2","permalink":""}',
            DeclareOrigin(channel="C1", ts="1.2", permalink=""),
        ),
        (
            "action_item_modal",
            '{"channel":"C1","ts":"","permalink":null,"incident_id":null}',
            ActionItemForm(channel="C1", ts=""),
        ),
        ("some_other_modal", "garbage", None),
    ],
)
def test_forms_opened_before_this_version_still_read(
    callback_id: str, metadata: str, expected: Payload | None
) -> None:
    assert of_view({"callback_id": callback_id, "private_metadata": metadata}) == expected


def test_an_old_shortcut_form_still_reads() -> None:
    old = json.dumps(
        {
            "channel": "C1",
            "response_url": "https://hooks.slack.com/x",
            "message": {"ts": "1.2", "user": "U1", "edited": {"ts": "1.3"}, "text": "hi é"},
            "files": ["a.png"],
        },
        separators=(",", ":"),
    )
    shared = of_view({"callback_id": "timeline_pick_incident", "private_metadata": old})
    assert isinstance(shared, SharedMessage)
    assert shared.message_with_files() == {
        "ts": "1.2",
        "user": "U1",
        "edited": {"ts": "1.3"},
        "text": "hi é",
        "files": [{"name": "a.png"}],
    }
    assert shared.encode() == old  # the same bytes as the bot wrote before


# -- garbled or forged input is refused clearly ----------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        {"action_id": "incident_post_update", "value": "12; DROP TABLE"},
        {"action_id": "incident_post_update", "value": "0"},
        {"action_id": "incident_post_update", "value": "-3"},
        {"action_id": "incident_post_update", "value": " 12"},
        {"action_id": "incident_post_update", "value": "\uff11\uff12"},  # full-width digits
        {"action_id": "incident_post_update", "value": "9" * 16},
        {"action_id": "incident_post_update", "value": ""},
        {"action_id": "incident_post_update"},
        {"action_id": "incident_resolve", "value": 12},
        {"action_id": "timeline_later", "value": "12"},
        {"action_id": "timeline_later", "value": "12:3:4"},
        {"action_id": "reminder_snooze_30", "value": "12:"},
        {"action_id": "incident_set_status", "block_id": "incident_card_x"},
        {"action_id": "incident_set_severity", "block_id": "card_12"},
        {"action_id": "action_item_done", "value": "7", "block_id": "ai_inc12_8"},
        {"action_id": "action_item_done", "value": "7", "block_id": "ai_theirs_7"},
        {"action_id": "action_item_done", "value": "x" * 3000},
    ],
)
def test_a_garbled_or_forged_value_is_refused_with_a_clear_error(action: dict[str, Any]) -> None:
    with pytest.raises(PayloadError, match="not one the incident bot made"):
        of_action(action)


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "not json",
        "[12]",
        '{"incident_id":"twelve"}',
        '{"incident_id":-1}',
        '{"incident_id":null}',
        "{" * 4000,
    ],
)
def test_garbled_form_metadata_is_refused(metadata: str) -> None:
    with pytest.raises(PayloadError, match="That form is not one"):
        of_view({"callback_id": "resolve_modal", "private_metadata": metadata})


def test_a_key_block_of_another_shape_is_no_key() -> None:
    assert (
        ReminderKeyBlockId.find({"blocks": [{"type": "section", "block_id": "reminder_"}]}) is None
    )
    assert (
        ReminderKeyBlockId.find({"blocks": [{"type": "actions", "block_id": "reminder_x"}]}) is None
    )
    assert ReminderKeyBlockId.find({"text": "no blocks"}) is None
    with pytest.raises(ValueError):
        ReminderKeyBlockId(key="has space")


# -- Slack's limits --------------------------------------------------------------------------


def test_the_longest_encodings_fit_slacks_limits() -> None:
    assert len(PageValue(incident_id=BIG, page=BIG).encode()) <= VALUE_MAX
    assert len(SnoozeValue(incident_id=BIG, minutes=BIG).encode()) <= VALUE_MAX
    assert len(CardBlockId(incident_id=BIG).encode()) <= ID_MAX
    assert len(ListBlockId(incident_id=BIG, item_id=BIG).encode()) <= ID_MAX
    assert len(FollowUpKeyBlockId(key="postmortem-999999999999999-20260302").encode()) <= ID_MAX
    longest = ActionItemForm(channel="C" * 32, ts="1" * 32, permalink="h" * 1000, incident_id=BIG)
    assert len(longest.encode()) <= METADATA_MAX
    with pytest.raises(ValueError, match="encodes to"):
        ReminderKeyBlockId(key="k" * 300).encode()


def test_shared_message_fits_the_metadata_limit_however_long_the_message() -> None:
    message = {"ts": "1.2", "user": "U1", "text": "é<@U2> 😀" * 2000}
    files = ["f" * 300 for _ in range(50)]
    packed = SharedMessage.of(
        channel="C1",
        message=message,
        files=files,
        response_url="https://hooks.example/" + "x" * 100,
    ).encode()
    assert len(packed) <= METADATA_MAX and packed.isascii()
    data = json.loads(packed)
    assert data["message"]["text"].startswith("é<@U2> 😀é")
    assert data["channel"] == "C1" and len(data["files"]) == 20
    assert all(len(name) == 100 for name in data["files"])
    again = SharedMessage.decode(packed)
    assert again.message.text == data["message"]["text"]
