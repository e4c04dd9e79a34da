"""Events: one frozen dataclass per kind of committed change, and who subscribes to them.

A domain operation changes rows and returns the event(s) of what it changed; the Slack side
writes one outbox row per event and subscriber in the same transaction
(`bot.slack.services.Services.apply`, `bot.outbox`), and the delivery engine delivers each
row to its subscriber, at least once, by whichever replica is alive. A subscriber is called
with the event and its `Delivery` (the delivery id it must be idempotent by); the
subscriptions, with their ordering lanes, are made in `bot.slack.subscribers`.

Every event names its incident, who acted (`actor`, a Slack user id) and when (`at`). Events
round-trip through JSON (`Event.to_json`, `from_json`), keyed by their `kind`, so that they
can be stored and delivered later; a kind's string never changes once released (the timeline
keys its entries by it, the outbox stores it).
"""

from __future__ import annotations

import hashlib
import json
import logging
import types
import typing
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from enum import Enum
from typing import Any, ClassVar, TypeVar

from bot.core import logcontext
from bot.core.vocabulary import Role, Severity, Status

log = logging.getLogger(__name__)

_KINDS: dict[str, type[Event]] = {}


@dataclass(frozen=True, kw_only=True)
class Event:
    """A committed change to one incident or to something that belongs to it."""

    kind: ClassVar[str] = ""

    incident_id: int
    actor: str
    at: datetime

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        kind = cls.__dict__.get("kind")
        if kind:
            if kind in _KINDS:
                raise TypeError(f"two event classes of kind {kind!r}")
            _KINDS[kind] = cls

    def to_json(self) -> str:
        """The event as a JSON object: its `kind` and every field."""
        data: dict[str, Any] = {"kind": self.kind}
        for f in fields(self):
            data[f.name] = _encode(getattr(self, f.name))
        return json.dumps(data, sort_keys=True)


def from_json(text: str) -> Event:
    """The event `Event.to_json` wrote; ValueError for an unknown kind or a bad field."""
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("an event is a JSON object")
    cls = _KINDS.get(str(data.pop("kind", "")))
    if cls is None:
        raise ValueError(f"unknown event kind in {text[:80]!r}")
    hints = typing.get_type_hints(cls)
    try:
        values = {f.name: _decode(hints[f.name], data[f.name]) for f in fields(cls)}
    except KeyError as exc:
        raise ValueError(f"{cls.kind} event without {exc.args[0]}") from None
    return cls(**values)


def kinds() -> dict[str, type[Event]]:
    """Every kind of event, by its `kind` string."""
    return dict(_KINDS)


def _encode(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, date):  # datetime too: isoformat keeps the UTC offset
        return value.isoformat()
    return value


def _decode(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        [inner] = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return _decode(inner, value)
    if hint is datetime:
        return datetime.fromisoformat(value)
    if hint is date:
        return date.fromisoformat(value)
    if isinstance(hint, type) and issubclass(hint, Enum):
        return hint(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"expected {hint.__name__}, got {value!r}")
    return value


# -- the incident itself --------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class IncidentEvent(Event):
    """A change to the incident itself: what its card, channel, timeline and reminders show."""


@dataclass(frozen=True, kw_only=True)
class IncidentDeclared(IncidentEvent):
    """Someone declared the incident (its channel is not made yet)."""

    kind: ClassVar[str] = "declared"


@dataclass(frozen=True, kw_only=True)
class StatusChanged(IncidentEvent):
    """The status moved (to anything but resolved: that is IncidentResolved)."""

    kind: ClassVar[str] = "status_changed"
    old: Status
    new: Status


@dataclass(frozen=True, kw_only=True)
class SeverityChanged(IncidentEvent):
    """The severity changed."""

    kind: ClassVar[str] = "severity_changed"
    old: Severity
    new: Severity


@dataclass(frozen=True, kw_only=True)
class RoleAssigned(IncidentEvent):
    """`user` now holds `role`; `previous` held it before (None when nobody did)."""

    kind: ClassVar[str] = "role_assigned"
    role: Role
    user: str
    previous: str | None = None


@dataclass(frozen=True, kw_only=True)
class UpdatePosted(IncidentEvent):
    """A status update was recorded (with a new status when `new_status` != `old_status`)."""

    kind: ClassVar[str] = "update_posted"
    update_id: int
    message: str
    old_status: Status
    new_status: Status

    @property
    def status_changed(self) -> bool:
        """True when the update also moved the status."""
        return self.new_status is not self.old_status


@dataclass(frozen=True, kw_only=True)
class IncidentResolved(IncidentEvent):
    """The incident was resolved from status `old`, with a short summary of how."""

    kind: ClassVar[str] = "resolved"
    old: Status
    resolution: str


# -- action items ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ActionItemEvent(Event):
    """A change to one of the incident's action items."""

    item_id: int


@dataclass(frozen=True, kw_only=True)
class ActionItemCreated(ActionItemEvent):
    """A new action item for `owner`; `thread_ts` is the thread its source message is in."""

    kind: ClassVar[str] = "action_item_created"
    owner: str
    due_on: date | None = None
    thread_ts: str | None = None


@dataclass(frozen=True, kw_only=True)
class ActionItemCompleted(ActionItemEvent):
    """Someone (the actor) marked the action item done."""

    kind: ClassVar[str] = "action_item_completed"


# -- post-mortems ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class PostmortemEvent(Event):
    """A change to the incident's post-mortem (the document is drafted again after each)."""


@dataclass(frozen=True, kw_only=True)
class PostmortemOpened(PostmortemEvent):
    """The incident was resolved: its post-mortem is due on `due_on`, its owner reminded."""

    kind: ClassVar[str] = "postmortem_opened"
    due_on: date | None = None


@dataclass(frozen=True, kw_only=True)
class PostmortemEdited(PostmortemEvent):
    """Someone saved the post-mortem's edit form."""

    kind: ClassVar[str] = "postmortem_edited"


@dataclass(frozen=True, kw_only=True)
class PostmortemCompleted(PostmortemEvent):
    """Someone marked the post-mortem complete (its owner's reminders stop)."""

    kind: ClassVar[str] = "postmortem_completed"


# -- the bot itself -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SetupFailed(Event):
    """A step of the incident's setup was given up (`step` says which, `error` why); the actor
    is the declarer, who is told and can retry."""

    kind: ClassVar[str] = "setup_failed"
    step: str
    error: str


@dataclass(frozen=True, kw_only=True)
class StatusPagePublished(Event):
    """The incident was published on the status page (`message`, its public page at `url`):
    said in its channel, and its card, topic and broadcast line show the link."""

    kind: ClassVar[str] = "statuspage_published"
    message: str
    url: str


@dataclass(frozen=True, kw_only=True)
class NotUpdated(Event):
    """A change is committed but Slack refused to show it somewhere (`what`, e.g. "the
    channel topic (Slack answered `restricted_action`)"); the actor is who made the change,
    who is told."""

    kind: ClassVar[str] = "not_updated"
    what: str


# -- subscriptions --------------------------------------------------------------------------

E = TypeVar("E", bound=Event)
Events = Event | Sequence[Event] | None  # what a domain operation returns


def as_list(events: Events) -> list[Event]:
    """The events a domain operation returned, as a list (none, one or several)."""
    if events is None:
        return []
    if isinstance(events, Event):
        return [events]
    return list(events)


def _always() -> bool:
    return True


@dataclass(frozen=True)
class Delivery:
    """How a subscriber gets an event: under which delivery id, and whether to look first.

    `key` is the delivery id: the same for every attempt of one delivery, carried by what the
    subscriber posts (so a retry finds it). `check_first`: an earlier attempt may have got
    through; look for `key` at the destination (since `since`) before doing it again.
    `renew`: extend the lease right before a side effect that follows a look-up (False: another
    replica has taken the delivery over; do nothing).
    """

    key: str
    check_first: bool = False
    since: datetime | None = None
    renew: Callable[[], bool] = field(default=_always, compare=False)

    @classmethod
    def once(cls) -> Delivery:
        """A one-off delivery (a direct call, a test): a fresh key, nothing to look for."""
        return cls(key=uuid.uuid4().hex)


def delivery_key(subscriber: str, event: Event) -> str:
    """The delivery id of `event` to `subscriber`: the same event always gets the same id."""
    digest = hashlib.sha256(event.to_json().encode()).hexdigest()[:40]
    return f"{subscriber}:{digest}"


@dataclass(frozen=True)
class Subscription:
    """A subscriber, the kinds it takes, and how its deliveries of one incident are ordered.

    `lane`: deliveries of one incident in the same lane go one after another, oldest first
    (None: in any order). `barrier`: a delivery every later `needs_channel` delivery of the
    incident waits for (making the channel). `coalesce`: only the newest pending delivery of the
    lane matters (a refresh that re-reads the latest state); older ones are skipped.
    `setup_step`: for IncidentDeclared, this delivery is a step of the incident's setup,
    described for people ("creating the incident channel"). `surface`: what people see it
    as ("the channel topic"); when a later change's delivery is given up, whoever made the
    change is told it is not shown there (`NotUpdated`). `prompt`: it makes the incident's
    channel usable (making it, inviting its people): claimed before any other due delivery.
    """

    name: str
    kinds: tuple[type[Event], ...]
    call: Callable[[Any, Delivery], None]
    lane: str | None = None
    barrier: bool = False
    needs_channel: bool = False
    coalesce: bool = False
    setup_step: str | None = None
    surface: str | None = None
    prompt: bool = False

    def takes(self, event: Event) -> bool:
        """True when `event` is of one of the kinds this subscriber takes."""
        return isinstance(event, self.kinds)


class EventBus:
    """The subscriptions, in subscription order, each subscriber to its kinds."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []

    def subscribe(
        self,
        name: str,
        subscriber: Callable[[E, Delivery], None],
        *kinds: type[E],
        lane: str | None = None,
        barrier: bool = False,
        needs_channel: bool = False,
        coalesce: bool = False,
        setup_step: str | None = None,
        surface: str | None = None,
        prompt: bool = False,
    ) -> None:
        """Deliver every event of one of `kinds` (or their subclasses) to `subscriber`."""
        if not kinds:
            raise ValueError(f"subscriber {name} listens to no kind of event")
        if len(name) > 32 or any(s.name == name for s in self._subscriptions):
            raise ValueError(f"subscriber name {name!r} is taken or longer than 32 characters")
        self._subscriptions.append(
            Subscription(
                name,
                kinds,
                subscriber,
                lane,
                barrier,
                needs_channel,
                coalesce,
                setup_step,
                surface,
                prompt,
            )
        )

    def subscribers(self) -> list[tuple[str, tuple[type[Event], ...]]]:
        """Who is subscribed to what, in the order their deliveries are written."""
        return [(s.name, s.kinds) for s in self._subscriptions]

    def subscriptions_for(self, event: Event) -> list[Subscription]:
        """The subscriptions that take `event`, in order."""
        return [s for s in self._subscriptions if s.takes(event)]

    def subscription(self, name: str) -> Subscription | None:
        """The subscription called `name`, if there is one."""
        return next((s for s in self._subscriptions if s.name == name), None)

    def prompt(self) -> list[str]:
        """The subscribers whose deliveries go out before any other (`Subscription.prompt`)."""
        return [s.name for s in self._subscriptions if s.prompt]

    def setup_steps(self) -> dict[str, str]:
        """The subscribers that set up a new incident, and what each step is called."""
        return {s.name: s.setup_step for s in self._subscriptions if s.setup_step}

    def publish(self, event: Event) -> None:
        """Deliver `event` to its subscribers now, in this thread, in order (one-off
        deliveries: no outbox, no retry); one failing does not stop the rest. For tests and
        tools: the bot itself delivers through the outbox."""
        token = logcontext.incident_id.set(event.incident_id)  # structured logs say which
        try:
            self._deliver(event)
        finally:
            logcontext.incident_id.reset(token)

    def _deliver(self, event: Event) -> None:
        for subscription in self.subscriptions_for(event):
            try:
                subscription.call(event, Delivery.once())
            except Exception:
                log.exception(
                    "subscriber %s failed on %s of incident %s",
                    subscription.name,
                    event.kind,
                    event.incident_id,
                )
