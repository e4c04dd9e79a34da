"""Resolve each request once: who asks, from which channel, about which incident.

`resolve_scope` is a global Bolt middleware. For every slash command, block action, shortcut
and view submission it decodes what the bot's own control or form carried (blocks.payloads),
finds the incident of the channel the request came from and the incident the payload names,
has handlers.access admit the request, and leaves the `Scope` on Bolt's context for the
listener (`handlers.context.scope_of`). A request that cannot be resolved or is not admitted
is answered at once and its user told why; its listener never runs. Events and other
requests pass straight through: Slack needs nothing but a fast 200 for those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_sdk import WebClient
from sqlmodel import Session

from blocks.ids import Callback, Field
from blocks.payloads import ActionItemForm, ItemValue, ListBlockId, Payload, of_action, of_view
from bot import action_items, incidents
from bot.core.commands import split
from handlers.access import admit
from handlers.context import Scope, services_of, set_scope
from handlers.errors import report
from handlers.forms import state_value
from storage.models import Incident

INTERACTIONS = frozenset({"block_actions", "view_submission", "shortcut", "message_action"})
PICKERS = frozenset({Callback.TIMELINE_PICK_MODAL.value, Callback.ACTION_ITEM_MODAL.value})


def resolve_scope(
    body: dict[str, Any], context: BoltContext, client: WebClient, next: Callable[[], Any]
) -> BoltResponse | None:
    """Build and admit the request's Scope, or answer the request with the reason it failed."""
    kind = "command" if "command" in body else str(body.get("type") or "")
    if kind != "command" and kind not in INTERACTIONS:
        return next()
    try:
        scope = _resolve(kind, body, context)
        admit(scope)
    except Exception as error:  # answered here: Slack must not see a failure it would show
        report(error, body=body, context=context, client=client)
        return BoltResponse(status=200, body="")
    set_scope(context, scope)
    return next()


def _resolve(kind: str, body: dict[str, Any], context: BoltContext) -> Scope:
    user = str(context.user_id or "")
    where = context.channel_id
    payload: Payload | None = None
    chosen: str | None = None
    if kind == "command":
        request = f"{body.get('command', '')} {split(body.get('text') or '')[0]}".strip()
    elif kind == "block_actions":
        action = (body.get("actions") or [{}])[0]
        request = f"button {action.get('action_id', '')}"
        payload = of_action(action)
    elif kind == "view_submission":
        view = body.get("view") or {}
        request = f"form {view.get('callback_id', '')}"
        payload = of_view(view)
        # A form has no channel of its own: the one it was opened from, when it says so.
        where = payload.channel if isinstance(payload, ActionItemForm) else None
        if view.get("callback_id") in PICKERS:
            chosen = state_value(view, Field.INCIDENT)
    else:
        request = f"shortcut {body.get('callback_id', '')}"
    with services_of(context).db.read() as session:
        here = incidents.by_channel(session, channel_id=where) if where else None
        incident = _named(session, payload)
        if incident is None and chosen and chosen.isdigit():
            incident = session.get(Incident, int(chosen))  # None: the form says so itself
    return Scope(
        request=request,
        user_id=user,
        channel_id=context.channel_id,
        channel_incident=here,
        incident=incident if incident is not None else here,
        payload=payload,
    )


def _named(session: Session, payload: Payload | None) -> Incident | None:
    """The incident the payload is about (NotFound when it no longer exists)."""
    if isinstance(payload, ItemValue | ListBlockId):
        item = action_items.get(session, item_id=payload.item_id)
        return incidents.get(session, incident_id=item.incident_id)
    if payload is not None and payload.incident_ref is not None:
        return incidents.get(session, incident_id=payload.incident_ref)
    return None
