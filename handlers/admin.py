"""`/incident admin deliveries`: what the outbox has not delivered, with a Retry button each.

Who may see and retry deliveries is decided by the gate (handlers/access.py) as
`Permission.ADMIN`: the incident admins (INCIDENT_ADMINS); nobody while INCIDENT_ADMINS is
empty, and the refusal says how to set it (bot.permissions.decide_general). Private
incidents' titles are never listed.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond

from blocks.ids import Action
from blocks.outbox import deliveries_blocks, deliveries_text
from blocks.payloads import DeliveryValue
from bot import outbox
from bot.core.errors import InvalidInput
from bot.permissions import Permission
from bot.slack.outbox import OVERDUE_AFTER
from bot.slack.services import Services
from handlers.access import on_action
from handlers.commands import route
from handlers.context import CommandRequest, scope_of, services_of
from storage.types import utcnow

USAGE = "`/incident admin deliveries` lists the deliveries that failed or are waiting."


def _listing(services: Services, note: str = "") -> dict[str, Any]:
    now = utcnow()
    with services.db.read() as session:
        items = outbox.undelivered(session, now=now)
        counts = outbox.counts(session, now=now, late=OVERDUE_AFTER)
    return {
        "text": deliveries_text(counts),
        "blocks": deliveries_blocks(items, counts, now=now, note=note),
    }


@route("admin", need=Permission.ADMIN)
def admin_command(request: CommandRequest) -> None:
    """`/incident admin deliveries`"""
    what = request.args.strip().lower()
    if what != "deliveries":
        raise InvalidInput(f"Unknown admin command `{what or '(none)'}`. {USAGE}")
    request.respond(response_type="ephemeral", **_listing(request.services))


def retry_delivery(ack: Ack, body: dict[str, Any], respond: Respond, context: BoltContext) -> None:
    """The list's Retry button: try that delivery again now, then show the list again."""
    ack()
    services = services_of(context)
    value = scope_of(context).expect(DeliveryValue).delivery_id
    with services.db.session() as session:
        row = outbox.retry(session, services.events, row_id=value)
    if row is None:
        note = ":white_check_mark: That delivery is done already."
    else:
        note = f":repeat: Retrying `{row.subscriber}` of incident delivery {value} now."
        services.outbox.kick()
    respond(replace_original=True, response_type="ephemeral", **_listing(services, note))


def register(app: App) -> None:
    """Register the admin listeners (the command is routed by handlers.commands)."""
    on_action(app, Action.RETRY_DELIVERY, retry_delivery, need=Permission.ADMIN)
