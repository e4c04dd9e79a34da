"""`/incident stats [30d|90d]`: the figures of the last days, for the person asking."""

from __future__ import annotations

from bot.insights import parse_period
from bot.permissions.policy import Permission
from bot.slack import insights
from handlers.commands import route
from handlers.context import CommandRequest


@route("stats", need=Permission.ANYONE)  # filtered per person
def stats_command(request: CommandRequest) -> None:
    """Median and p90 times, counts by severity (private incidents only for their members)."""
    days = parse_period(request.args)
    text, blocks = insights.stats(request.services, user_id=request.user_id, days=days)
    request.respond(text=text, blocks=blocks, response_type="ephemeral")
