"""Reading what people entered in a submitted form (what the bot itself put in a form or a
message is read by blocks.payloads, through handlers/scope.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.core import inputs


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


def picked_date(view: dict[str, Any], field: str) -> date | None:
    """The date picked in the datepicker `field`, or None when none was picked."""
    element = view.get("state", {}).get("values", {}).get(field, {}).get(field) or {}
    picked = element.get("selected_date")
    return inputs.parse_date(str(picked) if picked else None, field=field, name="date")
