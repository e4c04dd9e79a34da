"""Timeline listeners: reactions, `/incident note`, `/incident timeline`, the message shortcut.

The Events API work (`reaction_added`, `reaction_removed`, `message_changed`,
`message_deleted`) is routed here by handlers/events.py with Bolt's matchers.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient
from slack_sdk.webhook import WebhookClient

from blocks.ids import Action, Callback, Field
from blocks.payloads import IncidentValue, PageValue, SharedMessage
from blocks.timeline import (
    PER_PAGE,
    clamp_page,
    pick_incident_modal,
    timeline_blocks,
    timeline_text,
)
from bot import incidents
from bot import timeline as tl
from bot.core.vocabulary import Status
from bot.permissions import Permission
from bot.rate_limits import COSTLY
from bot.slack.services import Services
from bot.slack.timeline_capture import TimelineCapture, file_names, reaction_name
from handlers.access import here_or_anywhere, on_action, on_shortcut, on_view, picked
from handlers.commands import route
from handlers.context import CommandRequest, scope_of, services_of
from handlers.forms import state_value

log = logging.getLogger(__name__)


def capture_of(services: Services) -> TimelineCapture:
    """The timeline capture (built with the services)."""
    return services.timeline


# -- reading ------------------------------------------------------------------------------


def _page(services: Services, incident_id: int, page: int) -> tuple[str, list[Any]]:
    with services.db.read() as session:
        view = incidents.view(session, incident_id=incident_id)
        total = tl.count(session, incident_id=incident_id)
        page = clamp_page(page, total)
        rows = tl.entries(session, incident_id=incident_id, offset=page * PER_PAGE, limit=PER_PAGE)
    emojis = sorted(services.settings.timeline_emojis)
    blocks = timeline_blocks(view, rows, total=total, page=page, emojis=emojis)
    return timeline_text(view, total), blocks


@route("timeline", need=Permission.SEE)
def timeline_command(request: CommandRequest) -> None:
    """`/incident timeline`: the first page, only for the person who asked."""
    text, blocks = _page(request.services, request.scope.incident_id, 0)
    request.respond(text=text, blocks=blocks, response_type="ephemeral")


def turn_page(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """Earlier / Later: show another page in place."""
    ack()
    turn = scope_of(context).expect(PageValue)
    text, blocks = _page(services_of(context), turn.incident_id, turn.page)
    respond(text=text, blocks=blocks, response_type="ephemeral", replace_original=True)


def download(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Send the whole timeline as a Markdown file in a direct message."""
    ack()
    services = services_of(context)
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    user = body["user"]["id"]
    with services.db.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
        content = tl.markdown(session, incident_id=incident_id)
    dm = client.conversations_open(users=user)["channel"]["id"]
    client.files_upload_v2(
        channel=dm,
        content=content,
        filename=f"incident-{incident.number}-timeline.md",
        title=f"Timeline of incident #{incident.number}",
    )
    respond(
        text=f"I sent you the timeline of incident #{incident.number} as a file.",
        response_type="ephemeral",
        replace_original=False,
    )


# -- writing ------------------------------------------------------------------------------


@route("note", need=Permission.RESPOND)
def note_command(request: CommandRequest) -> None:
    """`/incident note <text>`: a manual entry at the current time."""
    incident = capture_of(request.services).note(
        channel_id=request.channel_id, user_id=request.user_id, text=request.args
    )
    request.respond(
        text=f":memo: Noted on the timeline of incident #{incident.number}.",
        response_type="ephemeral",
    )


def is_timeline_emoji(event: dict[str, Any], context: BoltContext) -> bool:
    """Bolt matcher: the reaction is one of TIMELINE_EMOJI."""
    name = reaction_name(str(event.get("reaction") or ""))
    return name in services_of(context).settings.timeline_emojis


def reaction_added(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """A timeline emoji put a message on the timeline (once, however often it is delivered)."""
    capture_of(services_of(context)).reaction_added(event, event_id=body.get("event_id"))


def reaction_removed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """The last timeline emoji taken off takes the message off the timeline."""
    capture_of(services_of(context)).reaction_removed(event)


def message_changed(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """An edit updates the entry."""
    capture_of(services_of(context)).message_changed(event)


def message_deleted(event: dict[str, Any], body: dict[str, Any], context: BoltContext) -> None:
    """A deletion marks the entry deleted."""
    capture_of(services_of(context)).message_deleted(event)


# -- the message shortcut -----------------------------------------------------------------


def _tell(response_url: str | None, text: str) -> None:
    if not response_url:
        return
    try:
        WebhookClient(response_url).send(text=text, response_type="ephemeral")
    except Exception:
        log.exception("could not answer on the response_url")


def _outcome_text(outcome: tl.Added, number: int) -> str:
    if outcome is tl.Added.ADDED:
        return f":memo: Added to the timeline of incident #{number}."
    return f"That message is already on the timeline of incident #{number}."


def _choices(services: Services, user: str) -> list[incidents.IncidentView]:
    """The incidents `user` may add to: open ones first, newest first."""
    with services.db.read() as session:
        views = incidents.list_incidents(session, include_resolved=True)
    views = services.access.respondable(user, views)
    return sorted(views, key=lambda v: (v.status is Status.RESOLVED, -v.incident.number))


def add_to_timeline(
    ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond, context: BoltContext
) -> None:
    """Message shortcut: in an incident channel add at once; elsewhere ask which incident."""
    ack()
    services = services_of(context)
    channel = body["channel"]["id"]
    message = body.get("message") or {}
    user = body["user"]["id"]
    incident = scope_of(context).channel_incident
    if incident is not None:
        assert incident.id is not None
        outcome = capture_of(services).add_shared(
            incident_id=incident.id, channel_id=channel, message=message, user_id=user
        )
        respond(text=_outcome_text(outcome, incident.number), response_type="ephemeral")
        return
    views = _choices(services, user)
    if not views:
        respond(
            text="There is no incident you can add this message to: join an incident's "
            "channel first.",
            response_type="ephemeral",
        )
        return
    shared = SharedMessage.of(
        channel=channel,
        message=message,
        files=file_names(message),
        response_url=body.get("response_url"),
    )
    client.views_open(
        trigger_id=body["trigger_id"],
        view=pick_incident_modal(views, shared=shared, preview=message.get("text") or ""),
    )


def submit_pick(ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext) -> None:
    """The incident picker: add the message to the chosen incident's timeline."""
    chosen = state_value(view, Field.INCIDENT)
    if not chosen:
        ack(response_action="errors", errors={Field.INCIDENT.value: "Choose an incident."})
        return
    ack()
    scope = scope_of(context)
    shared = scope.expect(SharedMessage)
    incident = scope.incident  # the one picked, when it exists
    if incident is None or incident.id is None:
        _tell(shared.response_url, "That incident no longer exists.")
        return
    outcome = capture_of(services_of(context)).add_shared(
        incident_id=incident.id,
        channel_id=shared.channel,
        message=shared.message_with_files(),
        user_id=scope.user_id,
    )
    _tell(shared.response_url, _outcome_text(outcome, incident.number))


def register(app: App) -> None:
    """Register timeline listeners."""
    on_shortcut(app, Callback.ADD_TO_TIMELINE, add_to_timeline, need=here_or_anywhere)
    on_view(app, Callback.TIMELINE_PICK_MODAL, submit_pick, need=picked)
    on_action(app, Action.TIMELINE_EARLIER, turn_page, need=Permission.SEE)
    on_action(app, Action.TIMELINE_LATER, turn_page, need=Permission.SEE)
    on_action(app, Action.TIMELINE_DOWNLOAD, download, need=Permission.SEE, cost=COSTLY)
