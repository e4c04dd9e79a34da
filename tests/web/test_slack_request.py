"""Kept bodies read as Bolt's listeners see them (web/slack_request.py: body_of), and the
depth of JSON measured as its values nest (`_too_deep`)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from web.slack_request import FORM, MAX_DEPTH, _too_deep, body_of, bolt_request


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


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    return 0


@pytest.mark.parametrize(
    "document",
    [
        "[" * MAX_DEPTH + "]" * MAX_DEPTH,
        "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1),
        json.dumps({"a": "[" * 100, "b": [[{"c": "]]]}}}"}]] * 40}),
        json.dumps({"quoted": '\\"[{[{' * 50, "deep": json.loads("[" * 70 + "]" * 70)}),
        json.dumps("{" * 100),  # only a string: braces, and no depth at all
        json.dumps([{"x": [1, 2, {"y": "z"}]}] * 30),
        json.dumps({"rich": [{"elements": [{"elements": [{"text": "]]"}]}]}] * 30}),
        json.dumps({"slashes": ["\\", '\\"[[', "\\\\", '"'] * 30, "n": [-1.5e3, None] * 30}),
        '{"odd": [NaN, Infinity, -Infinity, true, false, null, ' + "[" * 70 + "]" * 70 + "]}",
    ],
)
def test_the_depth_of_json_is_what_its_values_nest_not_its_strings(document: str) -> None:
    assert _too_deep(document) is (_depth(json.loads(document)) > MAX_DEPTH)
