"""Post-mortem listeners: `/incident postmortem [edit]`, the Edit and Mark complete buttons,
the edit form. Action items are in handlers/action_items.py (registered from here).
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from blocks.ids import Action, Callback, Field
from blocks.payloads import IncidentForm, IncidentValue
from blocks.postmortems import postmortem_modal
from bot import incidents, postmortems
from bot.core.errors import InvalidInput
from bot.permissions import Permission
from bot.rate_limits import COSTLY
from bot.slack.postmortems import PostmortemSlack
from bot.slack.services import Services
from handlers import action_items
from handlers.access import on_action, on_view
from handlers.commands import route
from handlers.context import CommandRequest, scope_of, services_of
from handlers.forms import picked_date, state_value
from handlers.incidents.roles import check_person


def _open_edit(services: Services, client: WebClient, trigger_id: str, incident_id: int) -> None:
    pm_slack = PostmortemSlack(services)
    name_of = pm_slack.name_of(incident_id)
    with services.db.session() as session:
        view = incidents.view(session, incident_id=incident_id)
        prefill = postmortems.prefill(session, incident_id=incident_id, name_of=name_of)
        pm = postmortems.find(session, incident_id=incident_id)
    owner = (pm.owner if pm else None) or view.manager
    client.views_open(
        trigger_id=trigger_id,
        view=postmortem_modal(view, prefill=prefill, owner=owner, due_on=pm.due_on if pm else None),
    )


@route("postmortem", need=Permission.RESPOND, cost=COSTLY)
def postmortem_command(request: CommandRequest) -> None:
    """`/incident postmortem` drafts and posts the latest; `... edit` opens the form."""
    arg = request.args.strip().lower()
    if arg not in ("", "edit"):
        raise InvalidInput("Use `/incident postmortem`, or `/incident postmortem edit`.")
    incident = request.scope.require_incident()
    assert incident.id is not None
    if arg == "edit":
        _open_edit(request.services, request.client, request.trigger_id, incident.id)
        return
    pm = PostmortemSlack(request.services).publish(
        incident.id, note=f"Posted for <@{request.user_id}>."
    )
    request.respond(
        text=f":page_facing_up: Posted version {pm.version} of the post-mortem of incident "
        f"#{incident.number}.",
        response_type="ephemeral",
    )


def edit_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Edit post-mortem (under the document, or on the owner's reminder)."""
    ack()
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    _open_edit(services_of(context), client, body["trigger_id"], incident_id)


def submit_edit(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The edit form: save, close, then post the regenerated document."""
    services = services_of(context)
    incident_id = scope_of(context).expect(IncidentForm).incident_id
    user = body["user"]["id"]
    owner = state_value(view, Field.OWNER) or None
    try:
        changes = postmortems.Edit(
            summary=state_value(view, Field.SUMMARY) or "",
            impact=state_value(view, Field.IMPACT) or "",
            root_cause=state_value(view, Field.ROOT_CAUSE) or "",
            resolution=state_value(view, Field.RESOLUTION) or "",
            owner=owner,
            due_on=picked_date(view, Field.DUE),
        )
        if owner:
            try:
                check_person(client, owner)
                services.access.check_owner(owner, incident_id, field=Field.OWNER.value)
            except InvalidInput as exc:
                raise InvalidInput(str(exc), fields={Field.OWNER.value: str(exc)}) from None
        services.apply(
            lambda session: postmortems.edit(
                session,
                incident_id=incident_id,
                changes=changes,
                actor=user,
                policy=action_items.policy_of(services),
            )[1],
            on_commit=ack,  # the document is posted again by bot.slack.postmortems
        )
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.SUMMARY.value: str(exc)})


def complete_button(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Mark complete: reminders stop, and the document says so."""
    ack()
    services = services_of(context)
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    user = body["user"]["id"]
    completed = services.apply(
        lambda session: postmortems.complete(
            session, incident_id=incident_id, actor=user, policy=action_items.policy_of(services)
        )[1]
    )  # the document is posted again by bot.slack.postmortems
    if completed is None:
        respond(
            text="This post-mortem is already complete.",
            response_type="ephemeral",
            replace_original=False,
        )
        return
    respond(
        text=":white_check_mark: Post-mortem marked complete; its owner gets no more reminders.",
        response_type="ephemeral",
        replace_original=False,
    )


def register(app: App) -> None:
    """Register post-mortem and action item listeners."""
    on_action(app, Action.POSTMORTEM_EDIT, edit_button, need=Permission.RESPOND)
    on_action(app, Action.POSTMORTEM_COMPLETE, complete_button, need=Permission.COMPLETE_POSTMORTEM)
    on_view(app, Callback.POSTMORTEM_MODAL, submit_edit, need=Permission.RESPOND)
    action_items.register(app)
