"""Action items: `/incident action`, `/incident actions [mine]`, Mark done, the message
shortcut and its form, and the action-item reaction (called from the timeline's
`reaction_added` listener: Bolt runs one listener per event, so they share it).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from sqlmodel import Session

from blocks import action_items as render
from blocks.ids import Action, Callback, Field
from bot import action_items, incidents
from bot.core import inputs
from bot.core.errors import DomainError, InvalidInput, NotFound
from bot.core.events import ActionItemCreated
from bot.followups.policy import FollowUpPolicy
from bot.slack.directory import MessageRef
from bot.slack.services import Services
from bot.slack.timeline_capture import reaction_name
from handlers.commands import route
from handlers.context import CommandRequest, readable, services_of
from handlers.guard import guarded
from handlers.incidents.roles import check_person
from handlers.payloads import metadata, state_value
from storage.models import Incident
from storage.models_postmortems import ActionItem
from storage.types import utcnow

log = logging.getLogger(__name__)

MINE = "mine"


def policy_of(services: Services) -> FollowUpPolicy:
    """The follow-up policy the settings describe."""
    return FollowUpPolicy.from_settings(services.settings)


def _readable(services: Services, text: str) -> str:
    return services.directory.readable(text)


# -- commands ----------------------------------------------------------------------------


@route("action")
def action_command(request: CommandRequest) -> None:
    """`/incident action <text> [@owner] [due YYYY-MM-DD]`"""
    services = request.services
    policy = policy_of(services)
    with services.db.read() as session:
        incident = incidents.in_channel(session, channel_id=request.channel_id)
    parsed = action_items.parse_command(request.args, today=policy.today(utcnow()))
    if parsed.owner:
        check_person(request.client, parsed.owner)
    incident_id = incident.id
    assert incident_id is not None
    created = services.apply(
        lambda session: action_items.create(
            session,
            incident_id=incident_id,
            text=readable(services, parsed.text),
            owner=parsed.owner or request.user_id,
            created_by=request.user_id,
            via=action_items.Via.COMMAND,
            due_on=parsed.due_on,
            policy=policy,
        )[1]
    )  # announced by bot.slack.action_items
    assert created is not None  # no source_key: every command makes a new item
    request.respond(
        text=f":ballot_box_with_check: Created action item *AI-{created.item_id}* for "
        f"<@{created.owner}>, {render.due_label(created.due_on)}.",
        response_type="ephemeral",
    )


def _list(services: Services, *, scope: str, user: str) -> tuple[str, list[Any]]:
    """The text and blocks of a list: `mine` or `inc<incident id>`."""
    today = policy_of(services).today(utcnow())
    with services.db.read() as session:
        if scope == MINE:
            rows: list[tuple[ActionItem, Incident | None]] = list(
                action_items.open_for(session, owner=user)
            )
            heading, empty = "Your open action items", "You have no open action items. :tada:"
        else:
            incident = incidents.get(session, incident_id=int(scope.removeprefix("inc")))
            assert incident.id is not None
            rows = [(i, None) for i in action_items.of_incident(session, incident_id=incident.id)]
            heading = f"Action items of incident #{incident.number}"
            empty = "No action items yet. Add one with `" + action_items.USAGE + "`."
    blocks = render.list_blocks(rows, heading=heading, empty=empty, today=today, scope=scope)
    return render.list_text(heading, len(rows)), blocks


@route("actions")
def actions_command(request: CommandRequest) -> None:
    """`/incident actions` (this incident's) or `/incident actions mine` (yours, anywhere)."""
    arg = request.args.strip().lower()
    if arg == MINE:
        scope = MINE
    elif not arg:
        with request.services.db.read() as session:
            incident = incidents.in_channel(session, channel_id=request.channel_id)
        scope = f"inc{incident.id}"
    else:
        raise InvalidInput("Use `/incident actions` here, or `/incident actions mine` anywhere.")
    text, blocks = _list(request.services, scope=scope, user=request.user_id)
    request.respond(text=text, blocks=blocks, response_type="ephemeral")


def done_button(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Mark done: on a list (shown again), a direct message or a reminder (updated)."""
    ack()
    services = services_of(context)
    action = body["actions"][0]
    user = body["user"]["id"]
    item_id = int(action["value"])
    services.apply(  # the channel is told by bot.slack.action_items
        lambda session: action_items.complete(
            session, item_id=item_id, actor=user, policy=policy_of(services)
        )[1]
    )
    scope = render.scope_of(str(action.get("block_id") or ""))
    if scope is not None:
        text, blocks = _list(services, scope=scope, user=user)
        respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=True)
        return
    message, channel = body.get("message") or {}, (body.get("channel") or {}).get("id")
    if message.get("ts") and channel:
        client.chat_update(
            channel=channel,
            ts=message["ts"],
            text=message.get("text") or f"AI-{item_id} is done.",
            blocks=render.marked_done(message, user=user, label=f"AI-{item_id} is done"),
        )


# -- the message shortcut and its form -------------------------------------------------


def create_from_message(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Message shortcut: a form with the message's text, a link to it, owner and due date."""
    ack()
    services = services_of(context)
    channel = body["channel"]["id"]
    message = body.get("message") or {}
    ts = str(message.get("ts") or "")
    with services.db.read() as session:
        incident = incidents.by_channel(session, channel_id=channel)
        choices = None
        if incident is None:
            choices = render.incident_choices(
                incidents.list_incidents(session, include_resolved=True)
            )
    if incident is None and not choices:
        respond(text="There is no incident to add an action item to.", response_type="ephemeral")
        return
    permalink = services.directory.permalink(MessageRef(channel, ts)) if ts else None
    data = {
        "channel": channel,
        "ts": ts,
        "permalink": permalink,
        "incident_id": incident.id if incident else None,
    }
    client.views_open(
        trigger_id=body["trigger_id"],
        view=render.action_item_modal(
            text=readable(services, message.get("text") or ""),
            owner=body["user"]["id"],
            choices=choices,
            incident=incident,
            permalink=permalink,
            metadata=data,
        ),
    )


def _due(view: dict[str, Any]) -> date | None:
    element = view.get("state", {}).get("values", {}).get(Field.DUE, {}).get(Field.DUE) or {}
    return inputs.parse_date(element.get("selected_date"), field=Field.DUE.value, name="due date")


def submit_action_item(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The Create action item form."""
    services = services_of(context)
    data = metadata(view)
    user = body["user"]["id"]
    chosen = data.get("incident_id") or state_value(view, Field.INCIDENT)
    owner = state_value(view, Field.OWNER) or user
    try:
        if not chosen:
            raise InvalidInput(
                "Choose an incident.", fields={Field.INCIDENT: "Choose an incident."}
            )
        check_person(client, owner)
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.OWNER.value: str(exc)})
        return
    try:
        services.apply(  # announced by bot.slack.action_items (a resubmitted form: no event)
            lambda session: action_items.create(
                session,
                incident_id=int(chosen),
                text=state_value(view, Field.TEXT) or "",
                owner=owner,
                created_by=user,
                via=action_items.Via.SHORTCUT,
                due_on=_due(view),
                channel_id=data.get("channel") or None,
                message_ts=data.get("ts") or None,
                permalink=data.get("permalink") or None,
                source_key=f"view:{view['id']}",
                policy=policy_of(services),
            )[1],
            on_commit=ack,
        )
    except DomainError as exc:
        fields = exc.fields if isinstance(exc, InvalidInput) else {}
        where = (
            Field.INCIDENT if isinstance(exc, NotFound) and not data.get("incident_id") else None
        )
        ack(response_action="errors", errors=fields or {(where or Field.TEXT).value: str(exc)})


# -- the reaction ------------------------------------------------------------------------


def reaction_added(event: dict[str, Any], context: BoltContext) -> ActionItem | None:
    """The action-item emoji on a message in an incident channel makes it an action item."""
    services = services_of(context)
    item_ref = event.get("item") or {}
    wanted = services.settings.action_item_emoji
    if item_ref.get("type") != "message" or reaction_name(event.get("reaction", "")) != wanted:
        return None
    ref = MessageRef(str(item_ref.get("channel", "")), str(item_ref.get("ts", "")))
    with services.db.read() as session:
        incident = incidents.by_channel(session, channel_id=ref.channel_id)
    if incident is None or incident.id is None:
        return None
    message = services.directory.message(ref)
    if message is None:
        return None  # deleted meanwhile
    user = str(event.get("user") or "")
    text = readable(services, message.get("text") or "").strip() or "Follow up on this message"
    permalink = services.directory.permalink(ref)
    incident_id = incident.id
    made: list[ActionItem] = []

    def create(session: Session) -> ActionItemCreated | None:
        item, created = action_items.create(
            session,
            incident_id=incident_id,
            text=text[: action_items.TEXT_MAX],
            owner=user,
            created_by=user,
            via=action_items.Via.REACTION,
            channel_id=ref.channel_id,
            message_ts=ref.ts,
            permalink=permalink,
            source_key=f"reaction:{ref.channel_id}:{ref.ts}",
            thread_ts=message.get("thread_ts"),
            policy=policy_of(services),
        )
        made.append(item)
        return created

    services.apply(create)  # a new item is announced by bot.slack.action_items
    return made[0]


def register(app: App) -> None:
    """Register action item listeners (the reaction comes through the timeline's listener)."""
    app.action(Action.ACTION_ITEM_DONE.value)(guarded(done_button))
    app.shortcut(Callback.CREATE_ACTION_ITEM.value)(guarded(create_from_message))
    app.view(Callback.ACTION_ITEM_MODAL.value)(guarded(submit_action_item))
