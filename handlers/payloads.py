"""Reading values out of interactive payloads."""

from __future__ import annotations

import json
from typing import Any


def state_value(view: dict[str, Any], field: str) -> Any:
    """The submitted value of the input whose block id and action id are `field`."""
    element = view.get("state", {}).get("values", {}).get(field, {}).get(field)
    if not element:
        return None
    kind = element.get("type")
    if kind == "plain_text_input":
        return element.get("value") or ""
    if kind in ("static_select", "radio_buttons"):
        option = element.get("selected_option")
        return option.get("value") if option else None
    if kind == "users_select":
        return element.get("selected_user")
    if kind == "checkboxes":
        return [o.get("value") for o in element.get("selected_options") or []]
    return element.get("value")


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    """The view's private_metadata, decoded."""
    raw = view.get("private_metadata") or "{}"
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def incident_id_of_action(body: dict[str, Any]) -> int:
    """The incident an action on a card refers to (button value or the card's block id)."""
    action = body["actions"][0]
    value = action.get("value")
    if value and value.isdigit():
        return int(value)
    return int(action["block_id"].rsplit("_", 1)[1])
