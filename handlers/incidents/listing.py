"""`/incident list` and the App Home: each person sees only the incidents they may see."""

from __future__ import annotations

from typing import Any

from slack_bolt import App, BoltContext

from blocks.listing import list_blocks
from bot import incidents
from bot.core.errors import InvalidInput
from bot.permissions import Permission
from bot.rate_limits import COSTLY
from bot.slack import insights
from handlers.commands import route
from handlers.context import CommandRequest, services_of
from handlers.guard import guarded
from storage.types import utcnow


@route("list", need=Permission.ANYONE, cost=COSTLY)
def list_command(request: CommandRequest) -> None:
    """`/incident list [all]`: the incidents the person may see."""
    scope = request.args.strip().lower()
    if scope not in ("", "all", "open"):
        raise InvalidInput(f"Unknown list `{scope}`. Use `/incident list` or `/incident list all`.")
    include_resolved = scope == "all"
    with request.services.db.read() as session:
        views = incidents.list_incidents(session, include_resolved=include_resolved)
    views = request.services.access.visible(request.user_id, views)
    blocks = list_blocks(views, now=utcnow(), include_resolved=include_resolved)
    request.respond(text=f"{len(views)} incidents", blocks=blocks, response_type="ephemeral")


def home_opened(event: dict[str, Any], context: BoltContext) -> None:
    """Publish the Home tab: Declare, open incidents, my roles and action items, overdue
    post-mortems, the last 30 days' figures (bot.slack.insights)."""
    if event.get("tab", "home") != "home":
        return
    insights.publish_home(services_of(context), user_id=event["user"])


def register(app: App) -> None:
    """Register listing listeners (an event: it passes no gate, and filters itself)."""
    app.event("app_home_opened")(guarded(home_opened))
