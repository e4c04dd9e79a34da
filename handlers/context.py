"""Handing the bot's services to listeners through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from bot.slack.services import Services

_KEY = "incident_bot_services"
_RESUMED = "incident_bot_resumed"  # set by web/intake.py: the request's writes were committed


def inject_services(services: Services) -> Callable[..., Any]:
    """A global middleware that makes `services` reachable from every listener."""

    def middleware(context: BoltContext, next: Callable[[], Any]) -> Any:
        context[_KEY] = services
        return next()

    return middleware


def services_of(context: BoltContext) -> Services:
    """The services the middleware put on this request's context."""
    services: Services = context[_KEY]
    return services


def resumed(context: BoltContext) -> bool:
    """True when this request is processed again after a crash and its writes were committed.

    Only listeners that handlers.resumable names see such requests; they finish what came
    after the writes (the declare form: the incident's channel and card).
    """
    return bool(context.get(_RESUMED))


@dataclass
class CommandRequest:
    """One `/incident` invocation, parsed."""

    services: Services
    name: str
    args: str
    user_id: str
    channel_id: str
    trigger_id: str
    respond: Respond
    client: WebClient
    body: dict[str, Any]


def ack_then(ack: Ack, work: Callable[[], Any]) -> None:
    """Acknowledge, then do `work` after this listener returns (its request freed meanwhile).

    Under the app's ListenerPool the work waits for a background slot without holding a
    thread; elsewhere (a plain executor) it simply runs now, after the ack.
    """
    then = getattr(ack, "then", None)
    if then is not None:
        then(work)
        return
    ack()
    work()
