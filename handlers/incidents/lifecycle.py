"""Status, severity, updates and resolving: commands, card controls and their modals."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlmodel import Session

from blocks.ids import Action, Callback, Field
from blocks.modals import resolve_modal, update_modal
from blocks.payloads import CardBlockId, IncidentForm, IncidentValue
from bot import incidents
from bot.core import inputs
from bot.core.errors import InvalidInput
from bot.core.events import IncidentEvent, IncidentResolved, StatusChanged
from bot.core.vocabulary import Severity, Status, parse_severity, parse_status
from bot.permissions import Permission
from bot.slack.services import Services
from bot.stakeholders.planning import quietly
from handlers import statuspage
from handlers.access import on_action, on_view
from handlers.commands import args_of, route
from handlers.context import CommandRequest, Scope, readable, scope_of, services_of
from handlers.forms import state_value
from handlers.stakeholders import update_notified


def status_need(scope: Scope, value: str) -> Permission:
    """Moving to `value`: resolving, reopening a resolved incident, or responding."""
    try:
        status = parse_status(value)
    except InvalidInput:
        return Permission.RESPOND  # the listener says what is wrong with it
    if status is Status.RESOLVED:
        return Permission.RESOLVE
    if scope.incident is not None and scope.incident.status == Status.RESOLVED.value:
        return Permission.REOPEN
    return Permission.RESPOND


def _view(services: Services, incident_id: int) -> incidents.IncidentView:
    with services.db.read() as session:
        return incidents.view(session, incident_id=incident_id)


def _set_status(services: Services, incident_id: int, status: Status, actor: str) -> None:
    def change(s: Session) -> StatusChanged | IncidentResolved:
        incident = incidents.get(s, incident_id=incident_id)
        event = incidents.set_status(s, incident=incident, status=status, actor=actor)
        statuspage.follow_in(s, services, incident=incident, actor=actor)
        return event

    services.apply(change)


def _set_severity(services: Services, incident_id: int, severity: Severity, actor: str) -> None:
    services.apply(
        lambda s: incidents.set_severity(
            s, incident=incidents.get(s, incident_id=incident_id), severity=severity, actor=actor
        )
    )


@route("status", need=lambda scope, body: status_need(scope, args_of(body)))
def status_command(request: CommandRequest) -> None:
    """`/incident status <status>`"""
    status = parse_status(request.args)
    _set_status(request.services, request.scope.incident_id, status, request.user_id)


@route("severity", need=Permission.RESPOND)
def severity_command(request: CommandRequest) -> None:
    """`/incident severity <sev>`"""
    severity = parse_severity(request.args)
    _set_severity(request.services, request.scope.incident_id, severity, request.user_id)


@route("update", need=Permission.RESPOND)
def update_command(request: CommandRequest) -> None:
    """`/incident update [text]` opens the update form."""
    view = _view(request.services, request.scope.incident_id)
    _open_update(
        request.client,
        request.trigger_id,
        view,
        readable(request.services, request.args),
        request.services,
    )


@route("resolve", need=Permission.RESOLVE)
def resolve_command(request: CommandRequest) -> None:
    """`/incident resolve` asks how it was resolved."""
    view = _view(request.services, request.scope.incident_id)
    _open_resolve(request.client, request.trigger_id, view, request.services)


def _open_update(
    client: WebClient,
    trigger_id: str,
    view: incidents.IncidentView,
    text: str,
    services: Services,
) -> None:
    if view.status is Status.RESOLVED:
        raise InvalidInput(f"Incident #{view.incident.number} is resolved; it takes no updates.")
    extra = (
        []
        if view.incident.private
        else statuspage.form_fields(services, incident_id=view.incident.id)
    )
    extra = [*extra, *update_notified(services, view)]
    client.views_open(trigger_id=trigger_id, view=update_modal(view, message=text, extra=extra))


def _open_resolve(
    client: WebClient, trigger_id: str, view: incidents.IncidentView, services: Services
) -> None:
    if view.status is Status.RESOLVED:
        raise InvalidInput(f"Incident #{view.incident.number} is already resolved.")
    assert view.incident.id is not None
    extra = statuspage.resolve_fields(services, incident_id=view.incident.id)
    client.views_open(trigger_id=trigger_id, view=resolve_modal(view, extra=extra))


def update_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Card button: Post update."""
    ack()
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    services = services_of(context)
    _open_update(client, body["trigger_id"], _view(services, incident_id), "", services)


def resolve_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Card button: Resolve."""
    ack()
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    services = services_of(context)
    _open_resolve(client, body["trigger_id"], _view(services, incident_id), services)


def _selected(body: dict[str, Any]) -> str:
    return str((body["actions"][0].get("selected_option") or {}).get("value") or "")


def _status_select_need(scope: Scope, body: dict[str, Any]) -> Permission:
    return status_need(scope, _selected(body))


def status_select(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Card select: change status."""
    ack()
    scope = scope_of(context)
    incident_id = scope.expect(CardBlockId).incident_id
    _set_status(services_of(context), incident_id, parse_status(_selected(body)), scope.user_id)


def severity_select(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Card select: change severity."""
    ack()
    scope = scope_of(context)
    incident_id = scope.expect(CardBlockId).incident_id
    severity = parse_severity(_selected(body))
    _set_severity(services_of(context), incident_id, severity, scope.user_id)


def submit_update(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The update form: the one update event."""
    incident_id = scope_of(context).expect(IncidentForm).incident_id
    status_value = state_value(view, Field.STATUS)
    message = state_value(view, Field.MESSAGE) or ""
    quiet = "quiet" in (state_value(view, Field.QUIET) or [])
    services = services_of(context)
    author = body["user"]["id"]

    def change(s: Session) -> IncidentEvent:
        incident = incidents.get(s, incident_id=incident_id)
        event = incidents.post_update(
            s, incident=incident, author=author, message=message, status=status
        )
        publication = statuspage.publication_of(services, view, private=incident.private)
        statuspage.publish_in(s, services, incident=incident, publication=publication, actor=author)
        return event

    try:
        status = parse_status(status_value) if status_value else None
        with quietly() if quiet else nullcontext():  # no stakeholder notices this once
            services.apply(change, on_commit=ack)  # close the form before the Slack calls
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.MESSAGE.value: str(exc)})


def submit_resolve(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The resolve form."""
    incident_id = scope_of(context).expect(IncidentForm).incident_id
    resolution = (state_value(view, Field.RESOLUTION) or "").strip()
    if not inputs.visible(resolution):
        ack(response_action="errors", errors={Field.RESOLUTION.value: "Say how it was resolved."})
        return
    services = services_of(context)
    actor = body["user"]["id"]

    def change(s: Session) -> IncidentEvent:
        incident = incidents.get(s, incident_id=incident_id)
        event = incidents.resolve(s, incident=incident, actor=actor, resolution=resolution)
        statuspage.resolve_in(s, services, incident=incident, view=view, actor=actor)
        return event

    try:
        services.apply(change, on_commit=ack)
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.RESOLUTION.value: str(exc)})


def register(app: App) -> None:
    """Register lifecycle listeners."""
    on_action(app, Action.POST_UPDATE, update_button, need=Permission.RESPOND)
    on_action(app, Action.RESOLVE, resolve_button, need=Permission.RESOLVE)
    on_action(app, Action.SET_STATUS, status_select, need=_status_select_need)
    on_action(app, Action.SET_SEVERITY, severity_select, need=Permission.RESPOND)
    on_view(app, Callback.UPDATE_MODAL, submit_update, need=statuspage.update_need)
    on_view(app, Callback.RESOLVE_MODAL, submit_resolve, need=Permission.RESOLVE)
