"""Builders for what Slack sends to apps: interaction payloads, view state, event envelopes.

Shapes follow ``/work/shared/slack/samples/app-backend`` and ``samples/events``.
"""

from __future__ import annotations

import base64
import secrets
import string
import time
from typing import Any

_ALNUM = string.ascii_uppercase + string.digits


def event_id() -> str:
    return "Ev" + "".join(secrets.choice(_ALNUM) for _ in range(10))


def action_ts() -> str:
    return f"{time.time():.6f}"


def find_element(
    blocks: list[dict[str, Any]], action_id: str, block_id: str | None = None
) -> tuple[str, dict[str, Any]] | None:
    """(block_id, element) of the interactive element with ``action_id`` in ``blocks``."""
    for block in blocks:
        if block_id is not None and block.get("block_id") != block_id:
            continue
        candidates = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id") or ""), element
    return None


def _option(element: dict[str, Any], value: Any) -> dict[str, Any]:
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    for option in options:
        if option.get("value") == value:
            return dict(option)
    return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": str(value)}


_SELECTED = {
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}


def state_value(element: dict[str, Any] | None, value: Any) -> dict[str, Any]:
    """The ``view.state.values`` entry a user's input produces in ``element``.

    ``value`` may be the entry itself (a dict with ``type``), a partial dict merged in, or a
    plain value interpreted per element type (text, option value(s), user/channel id(s), ...).
    """
    kind = str((element or {}).get("type") or "plain_text_input")
    if isinstance(value, dict):
        return {"type": kind, **value} if "type" not in value else dict(value)
    if kind in ("static_select", "external_select", "radio_buttons", "overflow"):
        selected = None if value is None else _option(element or {}, value)
        return {"type": kind, "selected_option": selected}
    if kind in ("multi_static_select", "multi_external_select", "checkboxes"):
        return {"type": kind, "selected_options": [_option(element or {}, v) for v in value or []]}
    if kind in _SELECTED:
        return {"type": kind, _SELECTED[kind]: value}
    if kind == "rich_text_input":
        section = {"type": "rich_text_section", "elements": [{"type": "text", "text": str(value)}]}
        return {"type": kind, "rich_text_value": {"type": "rich_text", "elements": [section]}}
    return {"type": kind, "value": value}


def view_state(view: dict[str, Any], values: dict[str, dict[str, Any]] | None) -> dict[str, Any]:
    """``view.state`` from ``{block_id: {action_id: value}}`` (see :func:`state_value`)."""
    out: dict[str, dict[str, Any]] = {}
    for block_id, actions in (values or {}).items():
        out[block_id] = {}
        for action_id, value in actions.items():
            found = find_element(list(view.get("blocks") or []), action_id, block_id)
            out[block_id][action_id] = state_value(found[1] if found else None, value)
    return {"values": out}


def action(
    blocks: list[dict[str, Any]],
    action_id: str,
    *,
    block_id: str | None = None,
    value: Any = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One entry of a ``block_actions`` payload's ``actions``."""
    found = find_element(blocks, action_id, block_id)
    found_block, element = found if found else (block_id or "", {"type": "button"})
    kind = str(element.get("type") or "button")
    entry: dict[str, Any] = {
        "type": kind,
        "block_id": block_id or found_block or secrets.token_hex(3),
        "action_id": action_id,
        "action_ts": action_ts(),
    }
    if kind == "button":
        entry["text"] = element.get("text") or {"type": "plain_text", "text": action_id}
        for key in ("value", "style", "url"):
            if key in element:
                entry[key] = element[key]
        if value is not None:
            entry["value"] = value
    elif value is not None:
        entry.update(state_value(element, value))
    entry.update(overrides or {})
    return entry


def envelope(
    event: dict[str, Any],
    *,
    team_id: str,
    api_app_id: str,
    bot_user_id: str,
    token: str,
    event_id_: str,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """An Events API ``event_callback`` envelope."""
    context = base64.b64encode(f'{{"t":"{team_id}","c":"{event.get("channel", "")}"}}'.encode())
    body: dict[str, Any] = {
        "token": token,
        "team_id": team_id,
        "api_app_id": api_app_id,
        "event": event,
        "type": "event_callback",
        "event_id": event_id_,
        "event_time": int(time.time()),
        "authorizations": [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": bot_user_id,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
        "event_context": "4-" + context.decode(),
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
    }
    if enterprise_id:
        body["enterprise_id"] = enterprise_id
    return body
