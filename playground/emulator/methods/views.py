"""The views.* methods: modals (a stack of up to 3 per user) and App Home tabs."""

from __future__ import annotations

import secrets
from typing import Any

from ..blockkit import check_view, view_errors
from ..errors import SlackError, invalid_arguments, missing_field
from ..params import Params
from ..state import Workspace
from ._base import Handler

STACK_MAX = 3


def _text(obj: Any) -> dict[str, Any] | None:
    if not isinstance(obj, dict):
        return None
    out = dict(obj)
    if out.get("type") == "plain_text":
        out.setdefault("emoji", True)
    return out


def build_view(
    ws: Workspace,
    spec: dict[str, Any],
    *,
    view_id: str,
    root_view_id: str | None,
    previous_view_id: str | None,
) -> dict[str, Any]:
    """A stored view object, as ``views.*`` return it and interaction payloads carry it."""
    modal = spec.get("type") == "modal"
    close = spec.get("close") or ({"type": "plain_text", "text": "Cancel"} if modal else None)
    view = {
        "id": view_id,
        "team_id": ws.team_id,
        "type": spec.get("type"),
        "blocks": list(spec.get("blocks") or []),
        "private_metadata": spec.get("private_metadata", ""),
        "callback_id": spec.get("callback_id", ""),
        "state": {"values": {}},
        "hash": f"{int(ws.now())}.{secrets.token_hex(4)}",
        "title": _text(spec.get("title")),
        "clear_on_close": bool(spec.get("clear_on_close", False)),
        "notify_on_close": bool(spec.get("notify_on_close", False)),
        "close": _text(close),
        "submit": _text(spec.get("submit")),
        "previous_view_id": previous_view_id,
        "root_view_id": root_view_id,
        "app_id": ws.app_id,
        "external_id": spec.get("external_id", ""),
        "app_installed_team_id": ws.team_id,
        "bot_id": ws.bot_id,
    }
    if "submit_disabled" in spec:
        view["submit_disabled"] = bool(spec["submit_disabled"])
    return view


def _spec(p: Params, expected_type: str | None = None) -> dict[str, Any]:
    raw = p.raw("view")
    if raw is None or raw == "":
        raise missing_field("view")
    if isinstance(raw, str):
        raise invalid_arguments("invalid json [json-pointer:/view]")
    return check_view(raw, expected_type=expected_type)


def _check_external_id(ws: Workspace, spec: dict[str, Any], view_id: str | None) -> None:
    external_id = spec.get("external_id")
    if not external_id:
        return
    for other in ws.views.values():
        if other.get("external_id") == external_id and other["id"] != view_id:
            raise SlackError("duplicate_external_id")


def _store(ws: Workspace, view: dict[str, Any], user: str) -> dict[str, Any]:
    ws.views[view["id"]] = view
    ws.view_owner[view["id"]] = user
    return {"view": view}


def _trigger_user(ws: Workspace, p: Params) -> str:
    trigger_id = p.opt("trigger_id") or p.opt("interactivity_pointer")
    if not trigger_id:
        raise missing_field("trigger_id")
    return ws.exchange_trigger(trigger_id).user or ""


def views_open(ws: Workspace, p: Params) -> dict[str, Any]:
    spec = _spec(p, "modal")
    _check_external_id(ws, spec, None)
    user = _trigger_user(ws, p)
    view_id = ws.new_id("V")
    view = build_view(ws, spec, view_id=view_id, root_view_id=view_id, previous_view_id=None)
    ws.modal_stacks[user] = [view_id]
    return _store(ws, view, user)


def push_view(ws: Workspace, user: str, spec: dict[str, Any]) -> dict[str, Any]:
    stack = ws.modal_stacks.get(user)
    if not stack:
        raise invalid_arguments("no open view to push onto")
    if len(stack) >= STACK_MAX:
        raise SlackError("push_limit_reached")
    view_id = ws.new_id("V")
    view = build_view(ws, spec, view_id=view_id, root_view_id=stack[0], previous_view_id=stack[-1])
    stack.append(view_id)
    return _store(ws, view, user)


def views_push(ws: Workspace, p: Params) -> dict[str, Any]:
    spec = _spec(p, "modal")
    _check_external_id(ws, spec, None)
    return push_view(ws, _trigger_user(ws, p), spec)


def replace_view(ws: Workspace, view_id: str, spec: dict[str, Any]) -> dict[str, Any]:
    current = ws.views.get(view_id, {})
    view = build_view(
        ws,
        spec,
        view_id=view_id,
        root_view_id=current.get("root_view_id", view_id),
        previous_view_id=current.get("previous_view_id"),
    )
    return _store(ws, view, ws.view_owner.get(view_id, ""))


def views_update(ws: Workspace, p: Params) -> dict[str, Any]:
    spec = _spec(p)
    view_id = p.opt("view_id")
    external_id = p.opt("external_id")
    if not view_id and not external_id:
        raise missing_field("view_id")
    if not view_id:
        found = [v["id"] for v in ws.views.values() if v.get("external_id") == external_id]
        view_id = found[0] if found else None
    if view_id is None or view_id not in ws.views:
        raise SlackError("not_found")
    if p.opt("hash") and p.opt("hash") != ws.views[view_id]["hash"]:
        raise SlackError("hash_conflict")
    _check_external_id(ws, spec, view_id)
    return replace_view(ws, view_id, spec)


def views_publish(ws: Workspace, p: Params) -> dict[str, Any]:
    spec = _spec(p, "home")
    user = p.opt("user_id")
    ws.user_or_raise(user)
    assert user is not None
    existing = ws.home_views.get(user)
    if existing and p.opt("hash") and p.opt("hash") != ws.views[existing]["hash"]:
        raise SlackError("hash_conflict")
    _check_external_id(ws, spec, existing)
    view_id = existing or ws.new_id("V")
    view = build_view(ws, spec, view_id=view_id, root_view_id=view_id, previous_view_id=None)
    ws.home_views[user] = view_id
    return _store(ws, view, user)


def close_view(ws: Workspace, user: str, view_id: str, *, clear: bool = False) -> None:
    """The user closed ``view_id`` (or, with ``clear``, the whole stack)."""
    stack = ws.modal_stacks.get(user, [])
    if clear or view_id not in stack:
        if clear:
            stack.clear()
        return
    del stack[stack.index(view_id) :]


def apply_submission(
    ws: Workspace, user: str, view_id: str, response: dict[str, Any] | None
) -> list[str]:
    """Do what Slack does with the app's answer to a ``view_submission``.

    Returns Block Kit errors when the answer carries an invalid view (Slack shows an error then).
    """
    response = response or {}
    action = response.get("response_action")
    if action == "errors":
        return []
    if action == "clear":
        close_view(ws, user, view_id, clear=True)
        return []
    if action in ("update", "push"):
        errors = view_errors(response.get("view"), expected_type="modal")
        if errors:
            return errors
        try:
            if action == "update":
                replace_view(ws, view_id, response["view"])
            else:
                push_view(ws, user, response["view"])
        except SlackError as exc:
            return [exc.code]
        return []
    close_view(ws, user, view_id)
    return []


METHODS: dict[str, Handler] = {
    "views.open": views_open,
    "views.push": views_push,
    "views.update": views_update,
    "views.publish": views_publish,
}
