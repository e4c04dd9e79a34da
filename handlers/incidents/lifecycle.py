"""Status, severity, updates and resolving: commands, card controls and their modals."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks.ids import Action, Callback, Field
from blocks.modals import resolve_modal, update_modal
from bot import incidents
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Status, parse_severity, parse_status
from bot.slack.services import Services
from bot.stakeholders.planning import quietly
from handlers.commands import route
from handlers.context import CommandRequest, services_of
from handlers.guard import guarded
from handlers.payloads import incident_id_of_action, metadata, state_value
from handlers.stakeholders import update_notified


def _view_in_channel(services: Services, channel_id: str) -> incidents.IncidentView:
    with services.db.read() as session:
        incident = incidents.in_channel(session, channel_id=channel_id)
        assert incident.id is not None
        return incidents.view(session, incident_id=incident.id)


def _view(services: Services, incident_id: int) -> incidents.IncidentView:
    with services.db.read() as session:
        return incidents.view(session, incident_id=incident_id)


@route("status")
def status_command(request: CommandRequest) -> None:
    """`/incident status <status>`"""
    status = parse_status(request.args)
    request.services.apply(
        lambda s: incidents.set_status(
            s,
            incident=incidents.in_channel(s, channel_id=request.channel_id),
            status=status,
            actor=request.user_id,
        )
    )


@route("severity")
def severity_command(request: CommandRequest) -> None:
    """`/incident severity <sev>`"""
    severity = parse_severity(request.args)
    request.services.apply(
        lambda s: incidents.set_severity(
            s,
            incident=incidents.in_channel(s, channel_id=request.channel_id),
            severity=severity,
            actor=request.user_id,
        )
    )


@route("update")
def update_command(request: CommandRequest) -> None:
    """`/incident update [text]` opens the update form."""
    view = _view_in_channel(request.services, request.channel_id)
    _open_update(request.client, request.trigger_id, view, request.args, request.services)


@route("resolve")
def resolve_command(request: CommandRequest) -> None:
    """`/incident resolve` asks how it was resolved."""
    view = _view_in_channel(request.services, request.channel_id)
    _open_resolve(request.client, request.trigger_id, view)


def _open_update(
    client: WebClient,
    trigger_id: str,
    view: incidents.IncidentView,
    text: str,
    services: Services,
) -> None:
    if view.status is Status.RESOLVED:
        raise InvalidInput(f"Incident #{view.incident.number} is resolved; it takes no updates.")
    notified = update_notified(services, view)
    client.views_open(
        trigger_id=trigger_id, view=update_modal(view, message=text, notified=notified)
    )


def _open_resolve(client: WebClient, trigger_id: str, view: incidents.IncidentView) -> None:
    if view.status is Status.RESOLVED:
        raise InvalidInput(f"Incident #{view.incident.number} is already resolved.")
    client.views_open(trigger_id=trigger_id, view=resolve_modal(view))


def update_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Card button: Post update."""
    ack()
    services = services_of(context)
    view = _view(services, incident_id_of_action(body))
    _open_update(client, body["trigger_id"], view, "", services)


def resolve_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Card button: Resolve."""
    ack()
    view = _view(services_of(context), incident_id_of_action(body))
    _open_resolve(client, body["trigger_id"], view)


def status_select(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Card select: change status."""
    ack()
    status = parse_status(body["actions"][0]["selected_option"]["value"])
    incident_id = incident_id_of_action(body)
    services_of(context).apply(
        lambda s: incidents.set_status(
            s,
            incident=incidents.get(s, incident_id=incident_id),
            status=status,
            actor=body["user"]["id"],
        )
    )


def severity_select(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Card select: change severity."""
    ack()
    severity = parse_severity(body["actions"][0]["selected_option"]["value"])
    incident_id = incident_id_of_action(body)
    services_of(context).apply(
        lambda s: incidents.set_severity(
            s,
            incident=incidents.get(s, incident_id=incident_id),
            severity=severity,
            actor=body["user"]["id"],
        )
    )


def submit_update(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The update form: the one update event."""
    incident_id = int(metadata(view)["incident_id"])
    status_value = state_value(view, Field.STATUS)
    message = state_value(view, Field.MESSAGE) or ""
    quiet = "quiet" in (state_value(view, Field.QUIET) or [])
    services = services_of(context)
    try:
        status = parse_status(status_value) if status_value else None
        with quietly() if quiet else nullcontext():  # no stakeholder notices this once
            event = services.commit(
                lambda s: incidents.post_update(
                    s,
                    incident=incidents.get(s, incident_id=incident_id),
                    author=body["user"]["id"],
                    message=message,
                    status=status,
                )
            )
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.MESSAGE.value: str(exc)})
        return
    ack()  # close the form before the Slack calls the change triggers
    services.publish(event)


def submit_resolve(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """The resolve form."""
    incident_id = int(metadata(view)["incident_id"])
    resolution = (state_value(view, Field.RESOLUTION) or "").strip()
    if not resolution:
        ack(response_action="errors", errors={Field.RESOLUTION.value: "Say how it was resolved."})
        return
    services = services_of(context)
    try:
        event = services.commit(
            lambda s: incidents.resolve(
                s,
                incident=incidents.get(s, incident_id=incident_id),
                actor=body["user"]["id"],
                resolution=resolution,
            )
        )
    except InvalidInput as exc:
        ack(response_action="errors", errors={Field.RESOLUTION.value: str(exc)})
        return
    ack()
    services.publish(event)


def register(app: App) -> None:
    """Register lifecycle listeners."""
    app.action(Action.POST_UPDATE.value)(guarded(update_button))
    app.action(Action.RESOLVE.value)(guarded(resolve_button))
    app.action(Action.SET_STATUS.value)(guarded(status_select))
    app.action(Action.SET_SEVERITY.value)(guarded(severity_select))
    app.view(Callback.UPDATE_MODAL.value)(guarded(submit_update))
    app.view(Callback.RESOLVE_MODAL.value)(guarded(submit_resolve))
