"""The one gate every slash command, button, select, shortcut and form submission passes.

Each listener says, where it is registered, what its requests do: a `Permission` (or a
function of the request that picks one, for a select whose option resolves the incident, say)
and what they cost against the person's rate limits. Listeners are registered only through
`on_action`, `on_view`, `on_shortcut` and `handlers.commands.route`, which record that here.

handlers/scope.py resolves each request into a `Scope` with the facts its permission is
decided on, then calls `admit` and `charge` before any listener runs. A refused request is
answered, its user told why and who can, and nothing is changed. A request no listener
declared is let through to no one (logged). Events (reactions, edits) do not come through
here: they carry nothing of ours to check and act only inside incident channels.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt import App
from sqlmodel import Session

from blocks.payloads import PayloadError
from bot import permissions, rate_limits
from bot.core import inbox
from bot.core.errors import DomainError
from bot.permissions import Permission
from bot.rate_limits import Bucket, Cost, Limit
from handlers.context import Scope
from handlers.guard import guarded
from storage import Database
from storage.db import RIDER, WRITE_FENCE, Rider, unfenced

log = logging.getLogger(__name__)

Decide = Callable[[Scope, dict[str, Any]], Permission]


class Refused(DomainError):
    """The person may not do this (the message says why and who may)."""


@dataclass(frozen=True)
class Need:
    """What a listener's requests do: a permission (or how to pick one), and their cost."""

    permission: Permission | Decide
    cost: Cost | None = None

    def resolve(self, scope: Scope, body: dict[str, Any]) -> Permission:
        """The permission this request needs."""
        if isinstance(self.permission, Permission):
            return self.permission
        return self.permission(scope, body)


_NEEDS: dict[str, Need] = {}
_PATTERNS: list[tuple[re.Pattern[str], str, Need]] = []  # (id pattern, kind, need)


def declare_need(request: str, need: Need) -> None:
    """Record what the requests `request` names (`/incident status`, `button <id>`, ...) need."""
    if _NEEDS.get(request, need) != need:
        raise ValueError(f"{request} declared twice with different needs")
    _NEEDS[request] = need


def need_of(request: str) -> Need | None:
    """What `request` needs, or None when no listener declared it."""
    found = _NEEDS.get(request)
    if found is not None:
        return found
    kind, _, name = request.partition(" ")
    for pattern, pattern_kind, need in _PATTERNS:
        if pattern_kind == kind and pattern.fullmatch(name):
            return need
    return None


def declared() -> dict[str, Need]:
    """Every declared request and what it needs (patterns as `kind /regex/`)."""
    return {**_NEEDS, **{f"{k} /{p.pattern}/": n for p, k, n in _PATTERNS}}


def on_action(
    app: App,
    action_id: str | re.Pattern[str],
    listener: Callable[..., Any],
    *,
    need: Permission | Decide,
    cost: Cost | None = None,
) -> None:
    """Register `listener` for clicks on `action_id`, which do `need`."""
    _record("button", action_id, Need(need, cost))
    app.action(action_id)(guarded(listener))


def on_view(
    app: App,
    callback_id: str,
    listener: Callable[..., Any],
    *,
    need: Permission | Decide,
    cost: Cost | None = None,
) -> None:
    """Register `listener` for submissions of the form `callback_id`, which do `need`."""
    _record("form", callback_id, Need(need, cost))
    app.view(callback_id)(guarded(listener))


def on_shortcut(
    app: App,
    callback_id: str,
    listener: Callable[..., Any],
    *,
    need: Permission | Decide,
    cost: Cost | None = None,
) -> None:
    """Register `listener` for the shortcut `callback_id`, which does `need`."""
    _record("shortcut", callback_id, Need(need, cost))
    app.shortcut(callback_id)(guarded(listener))


def _record(kind: str, name: str | re.Pattern[str], need: Need) -> None:
    if isinstance(name, re.Pattern):
        entry = (name, kind, need)
        if entry not in _PATTERNS:
            _PATTERNS.append(entry)
        return
    declare_need(f"{kind} {name}", need)


# -- deciders shared by several listeners --------------------------------------------------


def here_or_anywhere(scope: Scope, body: dict[str, Any]) -> Permission:
    """A shortcut used in an incident's channel responds to it; elsewhere it opens a picker
    that offers only the incidents the person may respond to."""
    return Permission.RESPOND if scope.channel_incident is not None else Permission.ANYONE


def picked(scope: Scope, body: dict[str, Any]) -> Permission:
    """A picker's submission responds to the incident picked (the form says when it is gone)."""
    return Permission.RESPOND if scope.incident is not None else Permission.ANYONE


# What a request about no one incident does, in the words of its refusal (by the last word
# of its request: the sub-command, the button's action id or the form's callback id).
DOING = {
    "admin": "use the bot's admin commands",
    "outbox_retry_delivery": "retry the bot's deliveries",
    "maintenance": "schedule maintenance on the status page",
    "maintenance_modal": "schedule maintenance on the status page",
    "component": "change a status page component",
    "alert_acknowledge": "acknowledge this alert",
    "alert_dismiss": "dismiss this alert",
    "alert_dismiss_modal": "dismiss this alert",
    "alert_link": "link this alert to an incident",
    "alert_link_modal": "link this alert to an incident",
}


def doing(request: str) -> str:
    """What `request` does, for a refusal."""
    return DOING.get(request.rsplit(" ", 1)[-1], "do that")


# -- the gate ------------------------------------------------------------------------------


def admit(scope: Scope) -> None:
    """Let the request through, or raise a DomainError that says why not.

    What the bot's own message or form names must belong where it came from: a control in an
    incident's channel (or a form opened from one) acts on that incident and no other, and an
    action item on an incident's list belongs to that incident. Then the person must be
    allowed the request's permission on its incident (bot.permissions.decide).
    """
    _check_payload(scope)
    if scope.declaring_manager is not None and scope.permission is Permission.STATUS_PAGE:
        decision = permissions.decide_declaring(
            scope.user_id, scope.declaring_manager, admins=scope.admins, policy=scope.policy
        )
        if not decision:
            raise Refused(decision.message)
        return
    if not scope.permission.about_incident:
        decision = permissions.decide_general(
            scope.permission,
            scope.user_id,
            admins=scope.admins,
            admins_configured=scope.admins_configured,
            doing=doing(scope.request),
            channel_id=scope.triage_channel,
            members=scope.channel_members,
        )
        if not decision:
            raise Refused(decision.message)
        return
    if scope.subject is None:
        scope.require_incident()  # raises: the request needs an incident and has none
        raise AssertionError("an incident without a subject")  # scope.py always builds one
    decision = permissions.decide(
        scope.permission, scope.user_id, scope.subject, admins=scope.admins, policy=scope.policy
    )
    if not decision:
        raise Refused(decision.message)


def _check_payload(scope: Scope) -> None:
    payload = scope.payload
    named = payload.incident_ref if payload is not None else None
    if payload is None or named is None:
        return
    here = scope.channel_incident
    if here is not None and here.id != named:
        raise PayloadError(
            f"That {payload.WHAT} is about another incident than this channel's "
            f"(#{here.number}), so nothing was changed."
        )
    if scope.incident is not None and scope.incident.id != named:
        raise PayloadError(f"That {payload.WHAT} does not match its incident; nothing was changed.")


class _Looked:
    """Requests let through by a look at the limit (`Rider.look`) whose take is not
    committed yet: the next look counts them as taken, until the transaction of the take
    ends (`Rider.ended`). One that is never taken (its process's move failed; the sweep
    keeps it without a take) stops counting after LOOK_HOLD.

    The take commits in the processing worker, which tells the front afterwards: meanwhile
    the database counts it already. So a held request that the inbox holds (read in the
    look's snapshot, with the tokens) is not counted again: counted twice, it refused a
    person's second declaration under a limit of two."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[tuple[str, Bucket], list[tuple[float, str]]] = {}

    def take(
        self,
        user: str,
        bucket: Bucket,
        key: str,
        limit: Limit,
        tokens: Callable[[], float],
        kept: Callable[[list[str]], set[str]],
    ) -> timedelta | None:
        """Let request `key` through if the tokens the database holds, less those let
        through whose request it does not hold yet (`kept`), allow it. (Both are read under
        the lock, in one snapshot: a take that commits and settles meanwhile is counted once,
        not zero times or twice.)"""
        now = time.monotonic()
        with self._lock:
            held = [(t, k) for t, k in self._held.get((user, bucket), []) if now - t < LOOK_HOLD]
            if held:
                in_inbox = kept([k for _, k in held])
                held = [(t, k) for t, k in held if k not in in_inbox]
            wait = rate_limits.waiting(tokens() - len(held), limit)
            if wait is None:
                held.append((now, key))
            self._held[(user, bucket)] = held
            if not held:
                del self._held[(user, bucket)]
        return wait

    def settle(self, user: str, bucket: Bucket, key: str) -> None:
        with self._lock:
            held = self._held.get((user, bucket))
            if not held:
                return
            for index, (_, k) in enumerate(held):
                if k == key:
                    del held[index]
                    break
            if not held:
                del self._held[(user, bucket)]


LOOK_HOLD = 60.0  # seconds
_LOOKED = _Looked()


def charge(scope: Scope, db: Database, limits: dict[Bucket, Limit | None]) -> None:
    """Take the request's cost from the person's rate limit, or raise Throttled (nothing is
    taken from a refused request, nor when the limit is off).

    A cost `in_write` (the declare form) is taken in the transaction that keeps the request
    in the inbox (storage.db.RIDER), when the request is kept there: one commit on the way
    to the answer instead of two. Over the limit, that transaction raises Throttled and
    rolls back, and the listener answers with the reason.
    """
    if scope.cost is None:
        return
    limit = limits.get(scope.cost.bucket)
    if limit is None:
        return
    if scope.cost.in_write and WRITE_FENCE.get() is not None:  # processed through the inbox
        user, bucket = scope.user_id, scope.cost.bucket

        def look(session: Session, key: str) -> None:  # kept before `take` (web/journal.py)
            def tokens() -> float:
                return rate_limits.available(session, user_id=user, bucket=bucket, limit=limit)

            def kept(keys: list[str]) -> set[str]:
                return inbox.kept(session, keys)

            wait = _LOOKED.take(user, bucket, key, limit, tokens, kept)
            if wait is not None:
                log.info("rate limit %s: %s must wait %s", bucket, user, wait)
                raise rate_limits.refusal(bucket, limit, wait)

        settle = functools.partial(_LOOKED.settle, user, bucket)
        spec = {"limit": bucket.value, "user": user}
        RIDER.set(Rider(_taker(user, bucket, limit), look, looked_over=settle, spec=spec))
        return
    with unfenced(), db.session() as session:  # bookkeeping, not the request's own write
        wait = rate_limits.take(
            session,
            user_id=scope.user_id,
            bucket=scope.cost.bucket,
            limit=limit,
            peek=scope.cost.peek,
        )
    if wait is not None:
        log.info("rate limit %s: %s must wait %s", scope.cost.bucket, scope.user_id, wait)
        raise rate_limits.refusal(scope.cost.bucket, limit, wait)


def rider_for(spec: dict[str, str], limits: dict[Bucket, Limit | None]) -> Rider | None:
    """The rider `charge` set, rebuilt in another process from its `spec` (the processing
    worker takes the declare limit where it keeps the request: web/worker.py); None when the
    spec names no limit in force. Its take raises Throttled over the limit, as `charge`'s."""
    try:
        bucket, user = Bucket(spec["limit"]), str(spec["user"])
    except (KeyError, ValueError, TypeError):
        return None
    limit = limits.get(bucket)
    if limit is None or not user:
        return None
    return Rider(_taker(user, bucket, limit))


def _taker(user: str, bucket: Bucket, limit: Limit) -> Callable[[Session], None]:
    """A rider's write: take one from `user`'s `bucket` in the keeping transaction, or
    raise Throttled (which rolls that transaction back)."""

    def take(session: Session) -> None:
        wait = rate_limits.take(session, user_id=user, bucket=bucket, limit=limit)
        if wait is not None:
            log.info("rate limit %s: %s must wait %s", bucket, user, wait)
            raise rate_limits.refusal(bucket, limit, wait)

    return take
