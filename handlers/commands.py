"""The `/incident` slash command: acknowledge at once, then route to a sub-command."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from blocks.help import help_blocks, help_text
from blocks.ids import Command
from bot.core import commands, slack_text
from bot.permissions import Permission
from bot.rate_limits import Cost
from handlers.access import Decide, Need, declare_need
from handlers.context import CommandRequest, scope_of, services_of
from handlers.guard import guarded

Route = Callable[[CommandRequest], None]
ROUTES: dict[str, Route] = {}


def route(
    name: str, *, need: Permission | Decide, cost: Cost | None = None
) -> Callable[[Route], Route]:
    """Decorator: make `fn` the handler of `/incident <name>`, whose requests do `need`
    (checked by handlers/access.py before `fn` runs) and cost `cost`."""
    if commands.find(name) is None:
        raise ValueError(f"/incident {name} is not in bot.core.commands.CATALOGUE")
    declare_need(f"{Command.INCIDENT.value} {name}", Need(need, cost))

    def decorator(fn: Route) -> Route:
        ROUTES[name] = fn
        return fn

    return decorator


def args_of(body: dict[str, Any]) -> str:
    """The arguments of the `/incident` sub-command a request carries."""
    return commands.split(body.get("text") or "")[1]


@route("help", need=Permission.ANYONE)
def show_help(request: CommandRequest) -> None:
    """Post the list of sub-commands."""
    subs = commands.catalogue()
    request.respond(text=help_text(subs), blocks=help_blocks(subs), response_type="ephemeral")


def handle_incident(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    client: WebClient,
    context: BoltContext,
) -> None:
    """Acknowledge within Slack's 3 seconds, then run the sub-command."""
    ack()
    name, args = commands.split(body.get("text", ""))
    scope = scope_of(context)
    request = CommandRequest(
        services=services_of(context),
        name=name,
        args=args,
        user_id=scope.user_id,
        channel_id=scope.channel_id or "",
        trigger_id=body.get("trigger_id", ""),
        respond=respond,
        client=client,
        body=body,
        scope=scope,
    )
    handler = ROUTES.get(name)
    if handler is None:
        subs = commands.catalogue()
        typed = slack_text.render(name)  # Slack sent it escaped; the builders escape it again
        respond(
            text=f"`{slack_text.escape(typed)}` is not an /incident command. " + help_text(subs),
            blocks=help_blocks(subs, unknown=typed, suggestion=commands.suggest(name)),
            response_type="ephemeral",
        )
        return
    handler(request)


def register(app: App) -> None:
    """Listen for `/incident`."""
    app.command(Command.INCIDENT.value)(guarded(handle_incident))
