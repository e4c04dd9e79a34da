"""Declaring: the command, the shortcuts and the Home button open one modal; submit creates."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from blocks.ids import Action, Callback, Field
from blocks.modals import declare_modal
from blocks.payloads import DeclareOrigin, IncidentValue
from bot import incidents, outbox
from bot.core.errors import InvalidInput
from bot.core.slack_text import escape
from bot.incidents import rules
from bot.permissions import Permission
from bot.rate_limits import DECLARE, OPENS_DECLARE
from bot.slack.directory import MessageRef
from bot.slack.operations import declare_incident
from handlers import statuspage
from handlers.access import on_action, on_shortcut, on_view
from handlers.commands import route
from handlers.context import CommandRequest, ack_then, readable, scope_of, services_of
from handlers.errors import new_reference
from handlers.forms import state_value
from handlers.stakeholders import declare_notified

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
    ack: Ack, body: dict[str, Any], view: dict[str, Any], client: WebClient, context: BoltContext
) -> None:
    """Validate, close the modal, record the incident, then build its channel and card.

    The modal closes as soon as the input is valid, so Slack gets its answer in a few
    milliseconds however busy the bot is; one incident per form is still guaranteed by the
    database (the form's view id is the incident's unique declare_key). If recording fails,
    the declarer gets a direct message with what they entered.
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
        "declared_by": user,
        "declare_key": f"view:{view['id']}",
        "origin_channel_id": origin.channel or None,
        "origin_message_ts": origin.ts or None,
        "origin_permalink": origin.permalink or None,
    }

    def record() -> None:
        try:
            incident, created = declare_incident(
                services,
                then=lambda s, inc: statuspage.publish_in(
                    s, services, incident=inc, publication=publication, actor=user
                ),
                **fields,
            )  # publishes its event
        except Exception as exc:
            _declare_failed(client, user=user, form=form, error=exc)
            return
        if not created:
            log.info(
                "declare form %s submitted again; incident #%s exists", view_id, incident.number
            )

    view_id = view["id"]
    ack_then(ack, record)  # the form's payload is not kept while the work waits for a slot


def _declare_failed(
    client: WebClient, *, user: str, form: dict[str, Any], error: Exception
) -> None:
    """Tell the declarer that nothing was created, and give them back what they typed."""
    reference = new_reference()
    log.error("could not record a declared incident (reference %s)", reference, exc_info=error)
    entered = "\n".join(
        f"*{label}:* {escape(str(form[key]))}"
        for key, label in (
            ("title", "Title"),
            ("severity", "Severity"),
            ("summary", "Summary"),
            ("impact", "Impact"),
        )
        if form.get(key)
    )
    text = (
        f":x: Your incident could not be recorded, so nothing was created (reference "
        f"`{reference}` for whoever runs the incident bot). Declare it again with "
        f"`/incident declare`; this is what you entered:\n{entered}"
    )
    try:
        client.chat_postMessage(channel=user, text=text)
    except Exception:
        log.exception("could not tell %s that declaring failed (reference %s)", user, reference)


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
    on_view(app, Callback.DECLARE_MODAL, submit_declare, need=anyone, cost=DECLARE)
    on_action(app, Action.RETRY_SETUP, retry_setup, need=Permission.RESPOND)
