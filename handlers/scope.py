"""Resolve each request once: who asks, from which channel, about which incident.

`resolve_scope` is a global Bolt middleware. For every slash command, block action, shortcut
and view submission it decodes what the bot's own control or form carried (blocks.payloads),
finds the incident of the channel the request came from and the incident the payload names,
looks up what the listener declared the request does (handlers.access) and the facts that is
decided on (bot.slack.access: who is in the channel, who is an admin), has handlers.access
admit the request and charge its cost, and leaves the `Scope` on Bolt's context for the
listener (`handlers.context.scope_of`). A request that cannot be resolved, is not admitted or
is over a rate limit is answered at once and its user told why; its listener never runs (a
form over its limit stays open, with the reason on it). Events and other requests pass
straight through: Slack needs nothing but a fast 200 for those.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from slack_bolt import BoltContext, BoltResponse
from slack_sdk import WebClient
from sqlmodel import Session

from blocks.ids import Callback, Field
from blocks.payloads import ActionItemForm, ItemValue, ListBlockId, Payload, of_action, of_view
from bot import action_items, incidents, permissions
from bot.alerts import triage
from bot.core.commands import split
from bot.core.errors import NotFound
from bot.permissions import Permission
from bot.rate_limits import Throttled
from bot.slack.services import Services
from bot.statuspage.publish import F_MESSAGE
from handlers.access import Need, Refused, admit, charge, need_of
from handlers.context import Scope, services_of, set_scope
from handlers.errors import report
from handlers.forms import state_value
from storage.models import Incident

INTERACTIONS = frozenset({"block_actions", "view_submission", "shortcut", "message_action"})
PICKERS = frozenset({Callback.TIMELINE_PICK_MODAL.value, Callback.ACTION_ITEM_MODAL.value})
log = logging.getLogger(__name__)


def resolve_scope(
    body: dict[str, Any], context: BoltContext, client: WebClient, next: Callable[[], Any]
) -> BoltResponse | None:
    """Build and admit the request's Scope, or answer the request with the reason it failed."""
    kind = "command" if "command" in body else str(body.get("type") or "")
    if kind != "command" and kind not in INTERACTIONS:
        return next()
    services = services_of(context)
    try:
        scope = _resolve(kind, body, context)
        if scope is None:
            return BoltResponse(status=200, body="")  # no listener declared it: nobody acts
        admit(scope)
        charge(scope, services.db, services.settings.limits)
    except Refused as error:
        view = body.get("view") or {}
        if kind == "view_submission" and view.get("callback_id") == Callback.DECLARE_MODAL.value:
            return _form_errors({F_MESSAGE: str(error)})  # the declare form stays open
        report(error, body=body, context=context, client=client)
        return BoltResponse(status=200, body="")
    except Throttled as error:
        if kind == "view_submission" and (field := _first_input(body.get("view") or {})):
            return _form_errors({field: str(error)})  # the form stays open, with what it held
        report(error, body=body, context=context, client=client)
        return BoltResponse(status=200, body="")
    except Exception as error:  # answered here: Slack must not see a failure it would show
        report(error, body=body, context=context, client=client)
        return BoltResponse(status=200, body="")
    set_scope(context, scope)
    return next()


def _first_input(view: dict[str, Any]) -> str | None:
    for block in view.get("blocks") or []:
        if block.get("type") == "input" and block.get("block_id"):
            return str(block["block_id"])
    return None


def _form_errors(errors: dict[str, str]) -> BoltResponse:
    body = json.dumps({"response_action": "errors", "errors": errors})
    return BoltResponse(status=200, body=body, headers={"content-type": "application/json"})


def _resolve(kind: str, body: dict[str, Any], context: BoltContext) -> Scope | None:
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
    need = need_of(request)
    if need is None and kind == "command":
        need = Need(Permission.ANYONE)  # a sub-command nobody routes: the listener says so
    if need is None:
        log.warning("no listener declared %r; nobody acts on it", request)
        return None
    services = services_of(context)
    with services.db.read() as session:
        here = incidents.by_channel(session, channel_id=where) if where else None
        incident = _named(session, payload)
        if incident is None and chosen and chosen.isdigit():
            incident = session.get(Incident, int(chosen))  # None: the form says so itself
        scope = Scope(
            request=request,
            user_id=user,
            channel_id=context.channel_id,
            channel_incident=here,
            incident=incident if incident is not None else here,
            payload=payload,
            cost=need.cost,
        )
        return _with_facts(services, session, scope, need.resolve(scope, body), body)


def _with_facts(
    services: Services,
    session: Session,
    scope: Scope,
    permission: Permission,
    body: dict[str, Any],
) -> Scope:
    """The scope with its permission and the facts it is decided on."""
    access = services.access
    subject = None
    if permission.about_incident and scope.incident is not None:
        item = scope.payload.item_id if isinstance(scope.payload, ItemValue | ListBlockId) else None
        subject = access.subject(session, scope.incident, permission=permission, item_id=item)
    extra: dict[str, Any] = {}
    if permission is Permission.TRIAGE:
        channel = _triage_channel(session, body) or services.settings.alerts_channel or None
        extra = {"triage_channel": channel, "channel_members": access.members(channel)}
    view = body.get("view") or {}
    if (
        permission is Permission.STATUS_PAGE
        and scope.incident is None
        and view.get("callback_id") == Callback.DECLARE_MODAL.value
    ):
        extra["declaring_manager"] = state_value(view, Field.MANAGER) or scope.user_id
    return replace(
        scope,
        permission=permission,
        subject=subject,
        admins=access.admins(),
        policy=access.policy,
        admins_configured=not services.settings.admins.empty,
        **extra,
    )


def _triage_channel(session: Session, body: dict[str, Any]) -> str | None:
    """The channel of the triage message of the alert group a button or form is about."""
    value = str(((body.get("actions") or [{}])[0]).get("value") or "")
    if not value.isdigit():
        try:
            metadata = json.loads((body.get("view") or {}).get("private_metadata") or "{}")
        except ValueError:
            metadata = {}
        value = str(metadata.get("group") if isinstance(metadata, dict) else "")
    if not value.isdigit():
        return None
    try:
        return triage.view(session, int(value)).group.message_channel
    except NotFound:
        return None


def _named(session: Session, payload: Payload | None) -> Incident | None:
    """The incident the payload is about (NotFound when it no longer exists: in the words of
    an incident the person may not see, so neither says more than the other)."""
    if isinstance(payload, ItemValue | ListBlockId):
        item = action_items.get(session, item_id=payload.item_id)
        return incidents.get(session, incident_id=item.incident_id)
    if payload is not None and payload.incident_ref is not None:
        try:
            return incidents.get(session, incident_id=payload.incident_ref)
        except NotFound:
            raise NotFound(permissions.unseen(payload.incident_ref)) from None
    return None
