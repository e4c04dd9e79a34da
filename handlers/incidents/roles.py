"""Roles: `/incident manager`, `/incident role`, and the card's Assign role button."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from blocks.ids import Action, Callback, Field
from blocks.modals import role_modal
from bot import incidents
from bot.core.commands import parse_user
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Role, parse_role
from bot.slack.services import Services
from handlers.commands import route
from handlers.context import CommandRequest, services_of
from handlers.guard import guarded
from handlers.payloads import incident_id_of_action, metadata, state_value


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


def _assign(
    services: Services,
    *,
    incident_id: int | None,
    channel_id: str | None,
    role: Role,
    user_id: str,
    actor: str,
) -> None:
    def operation(session: Any) -> Any:
        if incident_id is not None:
            incident = incidents.get(session, incident_id=incident_id)
        else:
            incident = incidents.in_channel(session, channel_id=channel_id or "")
        return incidents.assign_role(
            session, incident=incident, role=role, user_id=user_id, actor=actor
        )

    services.apply(operation)


@route("manager")
def manager_command(request: CommandRequest) -> None:
    """`/incident manager @user`"""
    user = parse_user(request.args, example="/incident manager @alice")
    with request.services.db.read() as session:
        incidents.in_channel(session, channel_id=request.channel_id)
    check_person(request.client, user)
    _assign(
        request.services,
        incident_id=None,
        channel_id=request.channel_id,
        role=Role.INCIDENT_MANAGER,
        user_id=user,
        actor=request.user_id,
    )


@route("role")
def role_command(request: CommandRequest) -> None:
    """`/incident role <role> @user`"""
    role_text, _, mention = request.args.partition(" ")
    if not role_text:
        raise InvalidInput("Say which role and who: `/incident role <manager|comms|scribe> @user`.")
    role = parse_role(role_text)
    user = parse_user(mention, example=f"/incident role {role_text} @alice")
    with request.services.db.read() as session:
        incidents.in_channel(session, channel_id=request.channel_id)
    check_person(request.client, user)
    _assign(
        request.services,
        incident_id=None,
        channel_id=request.channel_id,
        role=role,
        user_id=user,
        actor=request.user_id,
    )


def role_button(ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    """Card button: Assign role."""
    ack()
    with services_of(context).db.read() as session:
        view = incidents.view(session, incident_id=incident_id_of_action(body))
    client.views_open(trigger_id=body["trigger_id"], view=role_modal(view))


def submit_role(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The Assign role form."""
    services = services_of(context)
    incident_id = int(metadata(view)["incident_id"])
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
    app.action(Action.ASSIGN_ROLE.value)(guarded(role_button))
    app.view(Callback.ROLE_MODAL.value)(guarded(submit_role))
