"""Stakeholders in Slack: `/incident notify`, `/incident comms`, the checklist's "Email the
managers", retrying failed notices, and who-will-be-notified for the declare and update forms.

Who may send notices is decided by the domain (`bot.stakeholders.actions.authorise`).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk.models.blocks import Block

from blocks import stakeholders as render
from blocks.ids import Action
from blocks.payloads import IncidentValue
from blocks.text import escape
from bot.core.errors import InvalidInput
from bot.core.vocabulary import Severity
from bot.incidents import IncidentView
from bot.permissions.policy import Permission
from bot.slack.services import Services
from bot.stakeholders import actions, preview
from bot.stakeholders.config import Trigger
from bot.stakeholders.planning import NoticePolicy
from handlers.access import on_action
from handlers.commands import route
from handlers.context import CommandRequest, scope_of, services_of

log = logging.getLogger(__name__)


def policy_of(services: Services) -> NoticePolicy:
    """The notice policy the settings describe."""
    return NoticePolicy.from_settings(services.settings)


def _wake(services: Services) -> None:
    if services.notices is not None:
        services.notices.wake()


def declare_notified(services: Services) -> list[Block]:
    """Who a declaration will tell, for the declare form (nothing without groups)."""
    policy = policy_of(services)
    if not policy.directory.groups:
        return []
    lines = [p.line for p in preview.for_declaration(policy)]
    return render.preview_blocks(lines, what="Who will be notified", private_note=True)


def update_notified(services: Services, view: IncidentView) -> list[Block]:
    """Who this update will tell, for the update form (nothing without groups)."""
    policy = policy_of(services)
    if not policy.directory.groups:
        return []
    found = preview.for_update(policy, trigger=Trigger.UPDATE, severity=Severity(view.severity))
    lines = [p.line for p in found]
    if view.incident.private or view.incident.is_drill:
        lines = [f"{line} (if you confirmed it)" for line in lines]
    return [*render.preview_blocks(lines, what="Who this update notifies"), render.quiet_input()]


@route("notify", need=Permission.NOTIFY_CUSTOMERS)
def notify_command(request: CommandRequest) -> None:
    """`/incident notify <group> [message]`: tell a group about the incident now."""
    services = request.services
    directory = services.settings.stakeholders
    if not directory.groups:
        raise InvalidInput("No stakeholder groups are configured (STAKEHOLDERS_FILE).")
    if not request.args.strip():
        names = ", ".join(f"`{g.slug}`" for g in directory.groups)
        raise InvalidInput(
            f"Say which group: `/incident notify <group> [message]`. Groups: {names}."
        )
    group, message = directory.split_group(request.args)
    incident_id = request.scope.incident_id
    with services.db.session() as session:
        sent = actions.notify(
            session,
            incident_id=incident_id,
            groups=[group],
            message=message,
            actor=request.user_id,
            policy=policy_of(services),
        )
    _wake(services)
    request.respond(
        text=(
            f":outbox_tray: Notifying *{escape(group.name)}*: {sent.notices} "
            f"notice{'s' if sent.notices != 1 else ''} on the way. `/incident comms` shows "
            "when they arrive."
            if sent.notices
            else f"*{escape(group.name)}* has nobody this can reach."
        ),
        response_type="ephemeral",
    )


@route("comms", need=Permission.SEE)
def comms_command(request: CommandRequest) -> None:
    """`/incident comms`: who was told what, when, over which channel, and did it arrive."""
    services = request.services
    incident = request.scope.require_incident()
    assert incident.id is not None
    with services.db.read() as session:
        rows = actions.comms(session, incident_id=incident.id)
    request.respond(
        text=render.comms_text(incident.number, rows),
        blocks=render.comms_blocks(incident.number, rows, incident_id=incident.id),
        response_type="ephemeral",
    )


def email_managers(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """The checklist's "Email the managers": the summary and status link to their groups."""
    ack()
    services = services_of(context)
    scope = scope_of(context)
    incident_id = scope.expect(IncidentValue).incident_id
    with services.db.session() as session:
        sent = actions.email_managers(
            session, incident_id=incident_id, actor=scope.user_id, policy=policy_of(services)
        )
    _wake(services)
    groups = ", ".join(escape(g) for g in sent.groups)
    respond(
        text=f":email: E-mailing {groups}: {sent.notices} on the way (`/incident comms` in the "
        "incident channel shows when they arrive).",
        response_type="ephemeral",
        replace_original=False,
    )


def retry_notices(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """`/incident comms`' "Retry failed notices"."""
    ack()
    services = services_of(context)
    scope = scope_of(context)
    incident_id = scope.expect(IncidentValue).incident_id
    with services.db.session() as session:
        count = actions.retry_failed(session, incident_id=incident_id, actor=scope.user_id)
    _wake(services)
    respond(
        text=f":repeat: Sending {count} failed notice{'s' if count != 1 else ''} again.",
        response_type="ephemeral",
        replace_original=False,
    )


def register(app: App) -> None:
    """Register the stakeholder buttons (the commands register through `route`)."""
    on_action(app, Action.EMAIL_MANAGERS.value, email_managers, need=Permission.NOTIFY_CUSTOMERS)
    on_action(app, Action.RETRY_NOTICES.value, retry_notices, need=Permission.NOTIFY_CUSTOMERS)
