"""The triage message's buttons: Declare incident, Link to incident, Acknowledge, Dismiss.

Thin: read the group id from the button, call bot.alerts.triage, and let the alert triage
worker re-render the message. The button's value is the group id as plain digits.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks import alerts as render
from blocks.ids import Action
from blocks.modals import declare_modal
from blocks.payloads import DeclareOrigin, IncidentValue
from bot import incidents
from bot.alerts import incident_escalation, triage
from bot.core.errors import DomainError, InvalidInput
from bot.permissions.policy import Permission
from bot.slack.directory import MessageRef
from bot.slack.services import Services
from handlers.access import on_action, on_view
from handlers.commands import route
from handlers.context import CommandRequest, scope_of, services_of
from storage.types import utcnow

log = logging.getLogger(__name__)


def _group_id(body: dict[str, Any]) -> int:
    value = str(body["actions"][0].get("value") or "")
    if not value.isdigit():
        raise InvalidInput("This button is not from an alert.")
    return int(value)


def _view_group(view: dict[str, Any]) -> int:
    try:
        group = json.loads(view.get("private_metadata") or "{}").get("group")
    except ValueError:
        group = None
    if not isinstance(group, int):
        raise InvalidInput("This form is not about an alert.")
    return group


def _tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    channel = (body.get("channel") or {}).get("id")
    if not channel:
        return
    try:
        client.chat_postEphemeral(channel=channel, user=body["user"]["id"], text=text)
    except SlackApiError as exc:
        log.info("could not tell %s: %s", body["user"]["id"], exc.response.get("error"))


def _refresh(services: Services, group_id: int) -> None:
    if services.alerts is not None:
        services.alerts.refresh(group_id)


def acknowledge(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Acknowledge: the clicker takes the alert; escalation stops."""
    ack()
    services = services_of(context)
    try:
        group_id = _group_id(body)
        with services.db.session() as session:
            triage.acknowledge(session, group_id=group_id, user=body["user"]["id"], now=utcnow())
    except DomainError as exc:
        _tell(client, body, str(exc))
        return
    _refresh(services, group_id)


def dismiss(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Dismiss: ask why."""
    ack()
    services = services_of(context)
    try:
        with services.db.read() as session:
            v = triage.view(session, _group_id(body))
    except DomainError as exc:
        _tell(client, body, str(exc))
        return
    client.views_open(trigger_id=body["trigger_id"], view=render.dismiss_modal(v))


def submit_dismiss(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The Dismiss form: a reason is required."""
    services = services_of(context)
    reason = (
        view.get("state", {}).get("values", {}).get(render.REASON, {}).get(render.REASON, {})
    ).get("value") or ""
    try:
        group_id = _view_group(view)
        with services.db.session() as session:
            triage.dismiss(
                session, group_id=group_id, user=body["user"]["id"], reason=reason, now=utcnow()
            )
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {render.REASON: str(exc)})
        return
    except DomainError as exc:
        ack(response_action="errors", errors={render.REASON: str(exc)})
        return
    ack()
    _refresh(services, group_id)


def declare(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Declare incident: the declare form, prefilled from the alerts, linked back on submit."""
    ack()
    services = services_of(context)
    try:
        with services.db.read() as session:
            v = triage.view(session, _group_id(body))
    except DomainError as exc:
        _tell(client, body, str(exc))
        return
    channel, ts = v.group.message_channel or "", v.group.message_ts or ""
    permalink = ""
    if channel and ts:
        permalink = services_of(context).directory.permalink(MessageRef(channel, ts)) or ""
    prefill = render.declare_prefill(v, permalink)
    client.views_open(
        trigger_id=body["trigger_id"],
        view=declare_modal(
            user_id=body["user"]["id"],
            title=prefill["title"],
            summary=prefill["summary"],
            severity=prefill["severity"] or None,
            origin=DeclareOrigin(
                channel=channel or None, ts=ts or None, permalink=permalink or None
            ),
        ),
    )


def _visible_open_incidents(services: Services, user: str) -> list[tuple[int, str]]:
    with services.db.read() as session:
        views = incidents.list_incidents(session)
    return [
        (v.incident.id or 0, f"#{v.incident.number} {v.incident.title}")
        for v in views
        if not v.incident.private or v.incident.declared_by == user or user in v.roles.values()
    ]


def link(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Link to incident: pick one of the open incidents the clicker may see."""
    ack()
    services = services_of(context)
    try:
        with services.db.read() as session:
            v = triage.view(session, _group_id(body))
    except DomainError as exc:
        _tell(client, body, str(exc))
        return
    choices = _visible_open_incidents(services, body["user"]["id"])
    client.views_open(trigger_id=body["trigger_id"], view=render.link_modal(v, choices))


def submit_link(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The Link form: the chosen incident must be one the submitter may see."""
    services = services_of(context)
    user = body["user"]["id"]
    element = view.get("state", {}).get("values", {}).get(render.INCIDENT, {}).get(render.INCIDENT)
    chosen = ((element or {}).get("selected_option") or {}).get("value") or ""
    allowed = {str(i) for i, _ in _visible_open_incidents(services, user)}
    if chosen not in allowed:
        ack(response_action="errors", errors={render.INCIDENT: "Choose an open incident."})
        return
    try:
        group_id = _view_group(view)
        with services.db.session() as session:
            triage.link(
                session,
                group_id=group_id,
                incident_id=int(chosen),
                user=user,
                now=utcnow(),
                declared=False,
            )
    except DomainError as exc:
        ack(response_action="errors", errors={render.INCIDENT: str(exc)})
        return
    ack()
    _refresh(services, group_id)


def acknowledge_incident(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Acknowledge on an incident's escalation message: its manager has it; escalation stops."""
    ack()
    scope = scope_of(context)
    incident_id = scope.expect(IncidentValue).incident_id
    with services_of(context).db.session() as session:
        stopped = incident_escalation.acknowledge(
            session, incident_id=incident_id, user=scope.user_id, now=utcnow()
        )
    number = scope.require_incident().number
    text = (
        f":white_check_mark: You acknowledged incident #{number}: its escalation stops."
        if stopped
        else f"Incident #{number} is acknowledged already; nothing was changed."
    )
    channel = (body.get("channel") or {}).get("id")
    if channel:
        client.chat_postEphemeral(channel=channel, user=scope.user_id, text=text)


@route("oncall", need=Permission.ANYONE)
def oncall_command(request: CommandRequest) -> None:
    """`/incident oncall`: who is on call now, for each schedule and escalation policy."""
    triage_side = request.services.alerts
    rules = (
        triage_side.rules if triage_side is not None else request.services.settings.alert_rules()
    )
    request.respond(text=render.oncall_text(rules, utcnow()), response_type="ephemeral")


def register(app: App) -> None:
    """Register the triage message's listeners."""
    # Alert groups are not incidents. Anyone may declare from one (the declare form has rules
    # of its own); acknowledging, dismissing and linking are for the members of the channel
    # the triage message is in, and incident admins (Permission.TRIAGE); linking offers only
    # the incidents the person may see (_visible_open_incidents).
    on_action(app, render.ACKNOWLEDGE, acknowledge, need=Permission.TRIAGE)
    on_action(app, render.DISMISS, dismiss, need=Permission.TRIAGE)
    on_action(app, render.DECLARE, declare, need=Permission.ANYONE)
    on_action(app, render.LINK, link, need=Permission.TRIAGE)
    on_view(app, render.DISMISS_MODAL, submit_dismiss, need=Permission.TRIAGE)
    on_view(app, render.LINK_MODAL, submit_link, need=Permission.TRIAGE)
    # An incident's escalation: its manager (PERMISSIONS `acknowledge`) stops it.
    on_action(app, Action.ACKNOWLEDGE_INCIDENT, acknowledge_incident, need=Permission.ACKNOWLEDGE)
