"""`/incident drill [scenario|list|end]`: start a practice incident, list scenarios, end one.

A drill started here has no incident manager yet (naming one is part of the exercise, and the
score times it); with a scenario, its steps play in the drill's channel (`bot.slack.drills`).
`end` resolves the drill from its channel; its score follows (`bot.slack.subscribers`).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlmodel import Session

from blocks.drills import scenarios_text
from blocks.text import escape
from bot import drills, incidents
from bot.core.errors import InvalidInput
from bot.core.events import IncidentResolved
from bot.drills.scenario import Scenario
from bot.permissions import Permission
from bot.rate_limits import DECLARE
from bot.slack.operations import declare_incident
from handlers.commands import args_of, route
from handlers.context import CommandRequest, Scope
from storage.models import Incident

PLAIN_TITLE = "Practice incident"
PLAIN_SEVERITY = "sev3"


def drill_need(scope: Scope, body: dict[str, Any]) -> Permission:
    """Ending a drill resolves it; starting one is declaring (anyone)."""
    word = args_of(body).split(maxsplit=1)[:1]
    return Permission.RESOLVE if word == ["end"] else Permission.ANYONE


@route("drill", need=drill_need, cost=DECLARE)
def drill_command(request: CommandRequest) -> None:
    """Start (with a scenario or none), list the scenarios, or end the drill of this channel."""
    word = (request.args.split(maxsplit=1) or [""])[0].lower()
    if word == "end":
        _end(request)
    elif word in ("list", "help"):
        found = request.services.settings.drill_scenarios().values()
        request.respond(text=scenarios_text(found), response_type="ephemeral")
    else:
        _start(request, word)


def _scenario(request: CommandRequest, name: str) -> Scenario | None:
    if not name:
        return None
    found = request.services.settings.drill_scenarios()
    scenario = found.get(name)
    if scenario is None:
        raise InvalidInput(
            f"There is no scenario called `{escape(name)}`. {scenarios_text(found.values())}"
        )
    return scenario


def _start(request: CommandRequest, name: str) -> None:
    scenario = _scenario(request, name)
    user = request.user_id

    def then(session: Session, incident: Incident) -> None:
        drills.start(session, incident=incident, actor=user, scenario=scenario, unmanaged=True)

    incident, _ = declare_incident(
        request.services,
        then=then,
        title=scenario.title if scenario else PLAIN_TITLE,
        severity=scenario.severity.value if scenario else PLAIN_SEVERITY,
        summary=scenario.summary if scenario else "",
        declared_by=user,
        declare_key=f"drill:{request.trigger_id or uuid.uuid4().hex}",
        drill=True,
    )
    plays = (
        f" Scenario `{escape(scenario.name)}` plays {len(scenario.steps)} steps there."
        if scenario
        else ""
    )
    request.respond(
        text=(
            f":performing_arts: Drill #{incident.number} started: its channel is on its way."
            f"{plays} "
            "It has no incident manager yet: naming one is part of the drill. Nothing leaves "
            "the channel. End it there with `/incident drill end` to see the score."
        ),
        response_type="ephemeral",
    )


def _end(request: CommandRequest) -> None:
    incident_id = request.scope.incident_id  # the drill of this channel (or a clear error)
    user = request.user_id

    def operation(session: Session) -> IncidentResolved:
        return drills.end(session, incident=incidents.get(session, incident_id=incident_id),
                          actor=user)  # fmt: skip

    event = request.services.apply(operation)
    request.respond(
        text=f":checkered_flag: Drill ended ({event.at:%H:%M} UTC). The score is on its way.",
        response_type="ephemeral",
    )
