"""Events: one frozen dataclass per kind of committed change, and the bus that delivers them.

A domain operation changes rows and returns the event(s) of what it changed; the Slack side
publishes them once the transaction has committed (`bot.slack.services.Services.apply`), and
the subscribers listed in `bot.slack.subscribers` react. A failing subscriber is logged and
does not stop the others: the change is already safe in the database.

Every event names its incident, who acted (`actor`, a Slack user id) and when (`at`). Events
round-trip through JSON (`Event.to_json`, `from_json`), keyed by their `kind`, so that they
can be stored and delivered later; a kind's string never changes once released (the timeline
keys its entries by it).
"""

from __future__ import annotations

import json
import logging
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
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


# -- the bus --------------------------------------------------------------------------------

E = TypeVar("E", bound=Event)
Events = Event | Sequence[Event] | None  # what a domain operation returns


def as_list(events: Events) -> list[Event]:
    """The events a domain operation returned, as a list (none, one or several)."""
    if events is None:
        return []
    if isinstance(events, Event):
        return [events]
    return list(events)


@dataclass(frozen=True)
class _Subscription:
    name: str
    kinds: tuple[type[Event], ...]
    call: Callable[[Any], None]


class EventBus:
    """Synchronous publish/subscribe, in subscription order, each subscriber to its kinds."""

    def __init__(self) -> None:
        self._subscriptions: list[_Subscription] = []

    def subscribe(self, name: str, subscriber: Callable[[E], None], *kinds: type[E]) -> None:
        """Call `subscriber` for every event of one of `kinds` (or their subclasses)."""
        if not kinds:
            raise ValueError(f"subscriber {name} listens to no kind of event")
        self._subscriptions.append(_Subscription(name, kinds, subscriber))

    def subscribers(self) -> list[tuple[str, tuple[type[Event], ...]]]:
        """Who is subscribed to what, in the order they are called."""
        return [(s.name, s.kinds) for s in self._subscriptions]

    def publish(self, event: Event) -> None:
        """Deliver `event` to its subscribers in order; one failing does not stop the rest."""
        token = logcontext.incident_id.set(event.incident_id)  # structured logs say which
        try:
            self._deliver(event)
        finally:
            logcontext.incident_id.reset(token)

    def _deliver(self, event: Event) -> None:
        for subscription in self._subscriptions:
            if not isinstance(event, subscription.kinds):
                continue
            try:
                subscription.call(event)
            except Exception:
                log.exception(
                    "subscriber %s failed on %s of incident %s",
                    subscription.name,
                    event.kind,
                    event.incident_id,
                )
