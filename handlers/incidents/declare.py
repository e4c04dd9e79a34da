"""Declaring: the command, the shortcuts and the Home button open one modal; submit creates."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient
from sqlmodel import Session

from blocks.ids import Action, Callback, Field
from blocks.modals import declare_modal
from blocks.payloads import DeclareOrigin, IncidentValue
from bot import drills, incidents, outbox
from bot.core.errors import InvalidInput
from bot.core.inbox import InboxSuperseded
from bot.core.slack_text import escape
from bot.incidents import rules
from bot.permissions import Permission
from bot.rate_limits import DECLARE, OPENS_DECLARE, Throttled
from bot.slack.directory import MessageRef
from bot.slack.operations import declare_incident
from bot.slack.services import Services
from handlers import statuspage
from handlers.access import on_action, on_shortcut, on_view
from handlers.commands import route
from handlers.context import (
    CommandRequest,
    ack_then,
    readable,
    scope_of,
    services_of,
)
from handlers.errors import new_reference, tell_user
from handlers.forms import state_value
from handlers.stakeholders import declare_notified
from storage.models import Incident

log = logging.getLogger(__name__)


@route("declare", need=Permission.ANYONE, cost=OPENS_DECLARE)
def declare_command(request: CommandRequest) -> None:
    """`/incident declare [title]` opens the form with the title filled in."""
    request.client.views_open(
        trigger_id=request.trigger_id,
        view=declare_modal(
            user_id=request.user_id,
            title=readable(request.services, request.args),
            extra=[
                *statuspage.form_fields(request.services),
                *declare_notified(request.services),
            ],
        ),
    )


def declare_shortcut(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Global shortcut "Declare incident"."""
    ack()
    services = services_of(context)
    extra = [*statuspage.form_fields(services), *declare_notified(services)]
    view = declare_modal(user_id=body["user"]["id"], extra=extra)
    client.views_open(trigger_id=body["trigger_id"], view=view)


def declare_from_home(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """The App Home's Declare button."""
    ack()
    services = services_of(context)
    extra = [*statuspage.form_fields(services), *declare_notified(services)]
    view = declare_modal(user_id=body["user"]["id"], extra=extra)
    client.views_open(trigger_id=body["trigger_id"], view=view)


def declare_from_message(
    ack: Ack, body: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Message shortcut: the summary starts as the message, with a link to it."""
    ack()
    trigger_id = body["trigger_id"]
    channel = body["channel"]["id"]
    message = body.get("message", {})
    ts = message.get("ts", "")
    permalink = services_of(context).directory.permalink(MessageRef(channel, ts)) or ""
    text = readable(services_of(context), message.get("text", ""))
    summary = f"{text}\n\nFrom: {permalink}" if permalink else text
    origin = DeclareOrigin(channel=channel, ts=ts, permalink=permalink)
    client.views_open(
        trigger_id=trigger_id,
        view=declare_modal(
            user_id=body["user"]["id"],
            summary=summary,
            origin=origin,
            extra=[
                *statuspage.form_fields(services_of(context)),
                *declare_notified(services_of(context)),
            ],
        ),
    )


def submit_declare(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    """Validate, keep the submission, close the form; then record the incident and set it up.

    What the form asks for is durable before Slack gets its answer: the submission is kept
    in the inbox (web/intake.py) in one short transaction when the form closes (and the
    person's declare limit was taken before, by the gate), and this replica records the
    incident right after; if it dies first, any replica processes the kept submission again
    and records it then. One incident per form is guaranteed by the database (the form's
    view id is the incident's unique declare_key). Validation errors keep the form open,
    with what the declarer typed.
    """
    services = services_of(context)
    user = body["user"]["id"]
    form = {
        "title": state_value(view, Field.TITLE) or "",
        "severity": state_value(view, Field.SEVERITY),
        "summary": state_value(view, Field.SUMMARY) or "",
        "impact": state_value(view, Field.IMPACT) or "",
    }
    manager = state_value(view, Field.MANAGER) or user
    private = "private" in (state_value(view, Field.PRIVATE) or [])
    drill = "drill" in (state_value(view, Field.DRILL) or [])
    try:
        incidents.validate_declaration(**form)
        rules.clean_user(manager, field=Field.MANAGER.value, name="incident manager")
        publication = statuspage.publication_of(services, view, private=private)
    except InvalidInput as exc:
        ack(response_action="errors", errors=exc.fields)
        return
    origin = scope_of(context).expect(DeclareOrigin)
    fields = {
        **form,
        "manager": manager,
        "private": private,
        "drill": drill,
        "declared_by": user,
        "declare_key": f"view:{view['id']}",
        "origin_channel_id": origin.channel or None,
        "origin_message_ts": origin.ts or None,
        "origin_permalink": origin.permalink or None,
    }

    def then(session: Session, incident: Incident) -> None:  # in the declaration's transaction
        if drill:
            drills.start(session, incident=incident, actor=user)
        statuspage.publish_in(
            session, services, incident=incident, publication=publication, actor=user
        )

    def record() -> None:
        _record(services, fields, then, body=body, client=context.client)

    try:
        ack_then(ack, record)  # kept in the inbox before the answer leaves (web/server._keep)
    except Throttled as exc:  # taken with the keeping of the submission: nothing was kept
        ack(response_action="errors", errors={Field.TITLE.value: str(exc)})


RECORD_ATTEMPTS = 4  # a declaration the database refuses for a moment is tried again
RECORD_BACKOFF = 0.5  # seconds before the second attempt, doubled after each


def _record(
    services: Services,
    fields: dict[str, Any],
    then: Callable[[Session, Incident], None],
    *,
    body: dict[str, Any],
    client: WebClient,
) -> None:
    """Record a kept declaration (its setup follows from the outbox; `then` runs in its
    transaction: the drill, the status page); tell the declarer if the database refuses it
    every time (then what they typed is in the message)."""
    error: Exception | None = None
    for attempt in range(RECORD_ATTEMPTS):
        try:
            incident, created = declare_incident(services, then=then, **fields)
        except InboxSuperseded:
            log.info("declare form %s is processed by another replica", fields["declare_key"])
            return
        except Exception as exc:
            error = exc
            log.warning("could not record a declared incident (attempt %s): %s", attempt + 1, exc)
            time.sleep(RECORD_BACKOFF * 2**attempt)
            continue
        if not created:
            log.info(
                "%s submitted again; incident #%s exists", fields["declare_key"], incident.number
            )
        return
    reference = new_reference()
    log.error("could not record a declared incident (reference %s)", reference, exc_info=error)
    typed = "\n".join(
        f"{name}: {fields[name]}" for name in ("title", "severity", "summary", "impact")
    )
    tell_user(
        f"Your incident could not be recorded, so nothing was created (reference {reference}). "
        f"Declare it again in a moment; this is what you typed:\n```{escape(typed)}```",
        body=body,
        respond=None,
        client=client,
    )


def resumes_after_writes(body: dict[str, Any]) -> bool:
    """The declare form is run again after a crash that followed its commit (see handlers)."""
    view = body.get("view") if body.get("type") == "view_submission" else None
    return isinstance(view, dict) and view.get("callback_id") == Callback.DECLARE_MODAL.value


def retry_setup(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """The "Retry setup" button: the incident's given-up setup steps are tried again now."""
    ack()
    services = services_of(context)
    incident_id = scope_of(context).expect(IncidentValue).incident_id
    with services.db.session() as session:
        outbox.retry_incident(session, services.events, incident_id=incident_id)
        number = incidents.get(session, incident_id=incident_id).number
    services.outbox.kick()
    channel = body.get("channel", {}).get("id")
    if channel and body.get("message"):
        services.slack.chat_update(
            channel=channel,
            ts=body["message"]["ts"],
            text=f"Retrying the setup of incident #{number}: its channel is on its way.",
            blocks=[],
        )


def register(app: App) -> None:
    """Register the declare listeners."""
    anyone, opens = Permission.ANYONE, OPENS_DECLARE
    on_shortcut(app, Callback.DECLARE_SHORTCUT, declare_shortcut, need=anyone, cost=opens)
    on_shortcut(app, Callback.DECLARE_FROM_MESSAGE, declare_from_message, need=anyone, cost=opens)
    on_action(app, Action.HOME_DECLARE, declare_from_home, need=anyone, cost=opens)
    on_view(app, Callback.DECLARE_MODAL, submit_declare, need=statuspage.declare_need, cost=DECLARE)
    on_action(app, Action.RETRY_SETUP, retry_setup, need=Permission.RESPOND)
