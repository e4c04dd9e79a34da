"""Kept bodies read as Bolt's listeners see them (web/slack_request.py: body_of)."""

from __future__ import annotations

from urllib.parse import quote

from web.slack_request import FORM, body_of, bolt_request


def test_a_kept_body_is_read_as_bolt_would_except_a_command_that_says_payload() -> None:
    command = "command=%2Fincident&text=note+the+payload+is+big&user_id=U1&team_id=T1"
    assert body_of(command, FORM) == {
        "command": "/incident",
        "text": "note the payload is big",
        "user_id": "U1",
        "team_id": "T1",
    }
    interaction = "payload=" + quote('{"type": "block_actions", "user": {"id": "U1"}}')
    assert body_of(interaction, FORM) == {"type": "block_actions", "user": {"id": "U1"}}
    assert body_of('{"type": "event_callback"}', "application/json; charset=utf-8") == {
        "type": "event_callback"
    }
    request = bolt_request(command, FORM)
    assert request.body["text"] == "note the payload is big"
    assert request.context.get("user_id") == "U1"  # Bolt's context is built from the body
