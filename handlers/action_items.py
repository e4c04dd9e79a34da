"""Action items: `/incident action`, `/incident actions [mine]`, Mark done, the message
shortcut and its form, and the action-item reaction (routed here by handlers/events.py).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from sqlmodel import Session

from blocks import action_items as render
from blocks.ids import Action, Callback, Field
from blocks.payloads import ActionItemForm, ItemValue, ListBlockId
from bot import action_items, incidents
from bot.core.errors import DomainError, InvalidInput, NotFound
from bot.core.events import ActionItemCreated
from bot.followups.policy import FollowUpPolicy
from bot.permissions import Permission
from bot.slack.directory import MessageRef
from bot.slack.services import Services
from bot.slack.timeline_capture import reaction_name
from handlers.access import here_or_anywhere, on_action, on_shortcut, on_view, picked
from handlers.commands import args_of, route
from handlers.context import CommandRequest, Scope, readable, scope_of, services_of
from handlers.forms import picked_date, state_value
from handlers.incidents.roles import check_person
from storage.models import Incident
from storage.models_postmortems import ActionItem
from storage.types import utcnow

log = logging.getLogger(__name__)


def policy_of(services: Services) -> FollowUpPolicy:
    """The follow-up policy the settings describe."""
    return FollowUpPolicy.from_settings(services.settings)


def _readable(services: Services, text: str) -> str:
    return services.directory.readable(text)


# -- commands ----------------------------------------------------------------------------


@route("action", need=Permission.RESPOND)
def action_command(request: CommandRequest) -> None:
    """`/incident action <text> [@owner] [due YYYY-MM-DD]`"""
    services = request.services
    policy = policy_of(services)
    incident = request.scope.require_incident()
    parsed = action_items.parse_command(request.args, today=policy.today(utcnow()))
    incident_id = incident.id
    assert incident_id is not None
    if parsed.owner:
        check_person(request.client, parsed.owner)
        services.access.check_owner(parsed.owner, incident_id, field=Field.OWNER.value)
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


def _list(services: Services, *, incident_id: int | None, user: str) -> tuple[str, list[Any]]:
    """The text and blocks of a list: an incident's, or (`incident_id` None) `user`'s own."""
    today = policy_of(services).today(utcnow())
    with services.db.read() as session:
        if incident_id is None:
            rows: list[tuple[ActionItem, Incident | None]] = list(
                action_items.open_for(session, owner=user)
            )
            rows = _visible_rows(services, user, rows)
            heading, empty = "Your open action items", "You have no open action items. :tada:"
        else:
            incident = incidents.get(session, incident_id=incident_id)
            rows = [(i, None) for i in action_items.of_incident(session, incident_id=incident_id)]
            heading = f"Action items of incident #{incident.number}"
            empty = "No action items yet. Add one with `" + action_items.USAGE + "`."
    blocks = render.list_blocks(
        rows, heading=heading, empty=empty, today=today, incident_id=incident_id
    )
    return render.list_text(heading, len(rows)), blocks


def _visible_rows(
    services: Services, user: str, rows: list[tuple[ActionItem, Incident | None]]
) -> list[tuple[ActionItem, Incident | None]]:
    """Only the items of incidents `user` may see (someone who left a private incident's
    channel keeps its items, but no longer sees them)."""
    shown = {i.id: i for _, i in rows if i is not None}
    views = [incidents.IncidentView(incident=i, roles={}) for i in shown.values()]
    seen = {v.incident.id for v in services.access.visible(user, views)}
    return [(item, i) for item, i in rows if i is not None and i.id in seen]


def _actions_need(scope: Scope, body: dict[str, Any]) -> Permission:
    """`mine` is about no one incident (filtered per person); otherwise reading this one."""
    return Permission.ANYONE if args_of(body).strip().lower() == "mine" else Permission.SEE


@route("actions", need=_actions_need)
def actions_command(request: CommandRequest) -> None:
    """`/incident actions` (this incident's) or `/incident actions mine` (yours, anywhere)."""
    arg = request.args.strip().lower()
    if arg not in ("", "mine"):
        raise InvalidInput("Use `/incident actions` here, or `/incident actions mine` anywhere.")
    incident_id = None if arg == "mine" else request.scope.incident_id
    text, blocks = _list(request.services, incident_id=incident_id, user=request.user_id)
    request.respond(text=text, blocks=blocks, response_type="ephemeral")


def done_button(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Mark done: on a list (shown again), a direct message or a reminder (updated)."""
    ack()
    services = services_of(context)
    clicked = scope_of(context).payload
    if not isinstance(clicked, ItemValue | ListBlockId):
        raise ItemValue.refused()
    user = body["user"]["id"]
    item_id = clicked.item_id
    services.apply(  # the channel is told by bot.slack.action_items
        lambda session: action_items.complete(
            session, item_id=item_id, actor=user, policy=policy_of(services)
        )[1]
    )
    if isinstance(clicked, ListBlockId):  # on a list: show the list again
        text, blocks = _list(services, incident_id=clicked.incident_id, user=user)
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
    incident = scope_of(context).channel_incident
    choices = None
    if incident is None:
        with services.db.read() as session:
            views = incidents.list_incidents(session, include_resolved=True)
        choices = render.incident_choices(services.access.respondable(body["user"]["id"], views))
    if incident is None and not choices:
        respond(
            text="There is no incident you can add an action item to: join an incident's "
            "channel first.",
            response_type="ephemeral",
        )
        return
    permalink = services.directory.permalink(MessageRef(channel, ts)) if ts else None
    form = ActionItemForm(
        channel=channel, ts=ts, permalink=permalink, incident_id=incident.id if incident else None
    )
    client.views_open(
        trigger_id=body["trigger_id"],
        view=render.action_item_modal(
            text=readable(services, message.get("text") or ""),
            owner=body["user"]["id"],
            choices=choices,
            incident=incident,
            permalink=permalink,
            metadata=form,
        ),
    )


def submit_action_item(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The Create action item form."""
    services = services_of(context)
    scope = scope_of(context)
    form = scope.expect(ActionItemForm)
    user = scope.user_id
    chosen = scope.incident  # the form's own incident, or the one picked in it when it exists
    owner = state_value(view, Field.OWNER) or user
    try:
        if chosen is None or chosen.id is None:
            picked = state_value(view, Field.INCIDENT)
            why = "That incident no longer exists." if picked else "Choose an incident."
            raise InvalidInput(why, fields={Field.INCIDENT: why})
        check_person(client, owner)
        services.access.check_owner(owner, chosen.id, field=Field.OWNER.value)
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields or {Field.OWNER.value: str(exc)})
        return
    chosen_id = chosen.id
    try:
        services.apply(  # announced by bot.slack.action_items (a resubmitted form: no event)
            lambda session: action_items.create(
                session,
                incident_id=chosen_id,
                text=state_value(view, Field.TEXT) or "",
                owner=owner,
                created_by=user,
                via=action_items.Via.SHORTCUT,
                due_on=picked_date(view, Field.DUE),
                channel_id=form.channel or None,
                message_ts=form.ts or None,
                permalink=form.permalink or None,
                source_key=f"view:{view['id']}",
                policy=policy_of(services),
            )[1],
            on_commit=ack,
        )
    except DomainError as exc:
        fields = exc.fields if isinstance(exc, InvalidInput) else {}
        where = Field.INCIDENT if isinstance(exc, NotFound) and form.incident_id is None else None
        ack(response_action="errors", errors=fields or {(where or Field.TEXT).value: str(exc)})


# -- the reaction ------------------------------------------------------------------------


def is_action_item_emoji(event: dict[str, Any], context: BoltContext) -> bool:
    """Bolt matcher: the reaction is ACTION_ITEM_EMOJI."""
    name = reaction_name(str(event.get("reaction") or ""))
    return name == services_of(context).settings.action_item_emoji


def reaction_added(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """The action-item emoji on a message in an incident channel makes it an action item."""
    services = services_of(context)
    item_ref = event.get("item") or {}
    if item_ref.get("type") != "message":
        return
    ref = MessageRef(str(item_ref.get("channel", "")), str(item_ref.get("ts", "")))
    with services.db.read() as session:
        incident = incidents.by_channel(session, channel_id=ref.channel_id)
    if incident is None or incident.id is None:
        return None
    message = services.directory.message(ref)
    if message is None:
        return  # deleted meanwhile
    user = str(event.get("user") or "")
    text = readable(services, message.get("text") or "").strip() or "Follow up on this message"
    permalink = services.directory.permalink(ref)
    incident_id = incident.id

    def create(session: Session) -> ActionItemCreated | None:
        _item, created = action_items.create(
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
        return created

    services.apply(create)  # a new item is announced by bot.slack.action_items


def register(app: App) -> None:
    """Register action item listeners (handlers/events.py routes the reaction here)."""
    on_action(app, Action.ACTION_ITEM_DONE, done_button, need=Permission.CLOSE_ITEM)
    on_shortcut(app, Callback.CREATE_ACTION_ITEM, create_from_message, need=here_or_anywhere)
    on_view(app, Callback.ACTION_ITEM_MODAL, submit_action_item, need=picked)
