"""Roles: `/incident manager`, `/incident role`, and the card's Assign role button."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.ids import Action, Callback, Field
from blocks.modals import role_modal
from blocks.payloads import IncidentForm, IncidentValue
from bot import incidents
from bot.core.commands import parse_user
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Role, parse_role
from bot.permissions import Permission
from handlers.access import on_action, on_view
from handlers.commands import args_of, route
from handlers.context import CommandRequest, Scope, scope_of, services_of
from handlers.forms import state_value


def role_need(role_text: str | None) -> Permission:
    """Handing the incident manager role over is consequential; other roles are responding."""
    try:
        role = parse_role(role_text or "")
    except InvalidInput:
        return Permission.RESPOND  # the listener says what is wrong with it
    return Permission.MANAGER if role is Role.INCIDENT_MANAGER else Permission.RESPOND


def _role_command_need(scope: Scope, body: dict[str, Any]) -> Permission:
    return role_need(args_of(body).partition(" ")[0])


def _role_form_need(scope: Scope, body: dict[str, Any]) -> Permission:
    return role_need(state_value(body.get("view") or {}, Field.ROLE))


def check_person(client: WebClient, user_id: str) -> None:
    """InvalidInput unless `user_id` is an active, human member of the workspace."""
    try:
        user = client.users_info(user=user_id)["user"]
    except SlackApiError as exc:
        if exc.response.get("error") == "user_not_found":
            raise InvalidInput(f"<@{user_id}> is not a user of this workspace.") from None
        raise
    if user.get("deleted"):
        raise InvalidInput(f"<@{user_id}> has been deactivated.")
    if user.get("is_bot") or user_id == "USLACKBOT":
        raise InvalidInput(f"<@{user_id}> is a bot; roles go to people.")


def _assign(request: CommandRequest, role: Role, user_id: str) -> None:
    """Give `role` in this channel's incident to `user_id`, a person of the workspace."""
    incident_id = request.scope.incident_id
    check_person(request.client, user_id)
    request.services.apply(
        lambda s: incidents.assign_role(
            s,
            incident=incidents.get(s, incident_id=incident_id),
            role=role,
            user_id=user_id,
            actor=request.user_id,
        )
    )


@route("manager", need=Permission.MANAGER)
def manager_command(request: CommandRequest) -> None:
    """`/incident manager @user`"""
    user = parse_user(request.args, example="/incident manager @alice")
    _assign(request, Role.INCIDENT_MANAGER, user)


@route("role", need=_role_command_need)
def role_command(request: CommandRequest) -> None:
    """`/incident role <role> @user`"""
    role_text, _, mention = request.args.partition(" ")
    if not role_text:
        raise InvalidInput(
            "Say which role and who: `/incident role &lt;manager|comms|scribe&gt; @user`."
        )
    role = parse_role(role_text)
    user = parse_user(mention, example=f"/incident role {role_text} @alice")
    _assign(request, role, user)


def role_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Card button: Assign role."""
    ack()
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    with services_of(context).db.read() as session:
        view = incidents.view(session, incident_id=incident_id)
    client.views_open(trigger_id=body["trigger_id"], view=role_modal(view))


def submit_role(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The Assign role form."""
    services = services_of(context)
    incident_id = scope_of(context).expect(IncidentForm).incident_id
    user = state_value(view, Field.USER)
    role_value = state_value(view, Field.ROLE)
    try:
        if not user:
            raise InvalidInput("Choose a person.", fields={Field.USER.value: "Choose a person."})
        role = parse_role(role_value or "")
        check_person(client, user)
        services.apply(
            lambda s: incidents.assign_role(
                s,
                incident=incidents.get(s, incident_id=incident_id),
                role=role,
                user_id=user,
                actor=body["user"]["id"],
            ),
            on_commit=ack,
        )
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.USER.value: str(exc)})


def register(app: App) -> None:
    """Register role listeners."""
    on_action(app, Action.ASSIGN_ROLE, role_button, need=Permission.RESPOND)
    on_view(app, Callback.ROLE_MODAL, submit_role, need=_role_form_need)
