"""`/incident tag [tag...]` and `/incident untag <tag...>`: the incident's tags."""

from __future__ import annotations

from typing import Any

from bot.core.slack_text import escape
from bot.library import tags
from bot.permissions.policy import Permission
from handlers.commands import args_of, route
from handlers.context import CommandRequest, Scope
from storage.types import utcnow


def _shown(found: list[str]) -> str:
    return ", ".join(f"`{escape(t)}`" for t in found) or "no tags"


def _tag_need(scope: Scope, body: dict[str, Any]) -> Permission:
    """Showing the tags is reading the incident; adding them is changing it."""
    return Permission.SEE if not args_of(body).strip() else Permission.RESPOND


@route("tag", need=_tag_need)
def tag_command(request: CommandRequest) -> None:
    """Add tags (none named: show the incident's tags)."""
    incident_id = request.scope.incident_id
    wanted = tags.parse_tags(request.args)
    if not wanted:
        with request.services.db.read() as session:
            found = tags.tags_of(session, [incident_id]).get(incident_id, [])
        request.respond(
            text=(
                f"This incident has {_shown(found)}. Add some with `/incident tag &lt;tag...&gt;`."
            ),
            response_type="ephemeral",
        )
        return
    now = utcnow()
    with request.services.db.session() as session:  # no side effect to deliver: a write
        found = tags.add(
            session, incident_id=incident_id, tags=wanted, actor=request.user_id, now=now
        )
    request.respond(text=f":label: Tagged: {_shown(found)}.", response_type="ephemeral")


@route("untag", need=Permission.RESPOND)
def untag_command(request: CommandRequest) -> None:
    """Take tags off the incident."""
    incident_id = request.scope.incident_id
    unwanted = tags.parse_tags(request.args)
    with request.services.db.session() as session:
        found = tags.remove(session, incident_id=incident_id, tags=unwanted)
    request.respond(text=f":label: Tags now: {_shown(found)}.", response_type="ephemeral")
