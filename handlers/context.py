"""Handing the bot's services, and each request's scope, to listeners through Bolt's context."""

from __future__ import annotations

from collections.abc import Callable, Container
from dataclasses import dataclass, field
from typing import Any, TypeVar

from slack_bolt import Ack, BoltContext
from slack_bolt.context.respond import Respond
from slack_sdk import WebClient

from blocks.payloads import Payload
from bot.core.errors import NotFound
from bot.permissions import Permission, Policy, Subject
from bot.rate_limits import Cost
from bot.slack.services import Services
from storage.models import Incident

_KEY = "incident_bot_services"
_RESUMED = "incident_bot_resumed"  # set by web/intake_upkeep.py: its writes were committed
_SCOPE_KEY = "incident_bot_scope"
P = TypeVar("P", bound=Payload)


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


def readable(services: Services, text: str) -> str:
    """Text Slack sent escaped (a command's arguments, a message) as people meant it: `&lt;`
    back to `<`, mentions and links readable. It is stored like that and escaped on output."""
    return services.directory.readable(text)


@dataclass(frozen=True)
class Scope:
    """Who is asking, from where, about which incident: resolved once per request.

    handlers/scope.py builds it for every command, click, shortcut and form before the
    listener runs, and handlers/access.py has admitted it. `incident` is the incident the
    request is about: the one the bot's own message or form names, else the one picked in the
    form, else the one whose channel the request came from. It is a snapshot: operations that
    change the incident load it again in their own transaction, by id. By the time a listener
    reads it, the person has been found allowed `permission` on it.
    """

    request: str  # `/incident status`, `button incident_resolve`, `form update_modal`, ...
    user_id: str
    channel_id: str | None = None
    channel_incident: Incident | None = None  # the incident whose channel this is
    incident: Incident | None = None
    payload: Payload | None = None  # what the message's control or the form carried
    # What the listener declared the request does, and the facts it is decided on
    # (handlers/access.py): who may see and change `incident`, and what the request costs.
    permission: Permission = Permission.ANYONE
    subject: Subject | None = None
    admins: Container[str] = frozenset()
    policy: Policy = field(default_factory=Policy)
    cost: Cost | None = None
    # Facts of the permissions about no one incident (bot.permissions.decide_general):
    admins_configured: bool = True  # INCIDENT_ADMINS names someone
    triage_channel: str | None = None  # where the alert group's triage message is
    channel_members: Container[str] = frozenset()  # the members of triage_channel
    # The declare form's incident manager, when the form also publishes to the status page.
    declaring_manager: str | None = None

    def require_incident(self) -> Incident:
        """The request's incident, or the error that points to `/incident list`."""
        if self.incident is None:
            raise NotFound(
                "This command works inside an incident's channel. "
                "Use `/incident list` to find the incident and its channel."
            )
        return self.incident

    @property
    def incident_id(self) -> int:
        """The id of `require_incident()`."""
        found = self.require_incident().id
        assert found is not None
        return found

    def expect(self, shape: type[P]) -> P:
        """The payload, which the listener's control or form always carries in `shape`."""
        if not isinstance(self.payload, shape):
            raise shape.refused()
        return self.payload


def scope_of(context: BoltContext) -> Scope:
    """The scope handlers/scope.py put on this request's context."""
    scope: Scope = context[_SCOPE_KEY]
    return scope


def set_scope(context: BoltContext, scope: Scope) -> None:
    """Put `scope` on this request's context (handlers/scope.py only)."""
    context[_SCOPE_KEY] = scope


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
    scope: Scope


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
