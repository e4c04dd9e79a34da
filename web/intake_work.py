"""The work of one request in this process, and what the inbox keeps of it.

`Kept` is a request as the inbox (and the journal) keep it. `Work` follows its processing:
kept when the listener's first write or its ack() comes (`keep`), fenced by the row's lease
(`fence`), given to the processing worker (`hand_over`), and marked processed by the
intake (web/intake.py) once nothing of it runs any more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from bot.core import inbox
from storage.db import RIDER
from storage.types import utcnow

if TYPE_CHECKING:
    from web.handoff import Handoff
    from web.intake import Intake

log = logging.getLogger(__name__)

# Interactions whose answer is always an empty 200: the listener has nothing to say in it
# (what it has to say goes to the response_url or a view), so they are answered as soon as
# they are kept, like events, and processed after the answer. A form submission can answer
# with errors that keep the form open, so its listener is waited for.
AT_ONCE_INTERACTIONS = frozenset({"block_actions", "shortcut", "message_action"})


def person_of(kind: str, payload: dict[str, Any]) -> str | None:
    """Who sent a command or an interaction (None for events: nobody waits on their order)."""
    if kind == "slash_commands":
        return str(payload.get("user_id") or "") or None
    user = payload.get("user") if kind == "interactive" else None
    return str(user.get("id") or "") or None if isinstance(user, dict) else None


def answered_at_once(kind: str, payload: dict[str, Any]) -> bool:
    """True when Slack's answer to this request is an empty 200 given once it is kept."""
    if kind in ("events_api", "slash_commands"):
        return True
    return kind == "interactive" and payload.get("type") in AT_ONCE_INTERACTIONS


@dataclass(frozen=True)
class Kept:
    """What the inbox keeps of a request."""

    kind: str
    key: str
    mode: str
    content_type: str
    body: str

    def row(self, owner: str) -> tuple[str, str, str, str, str, str]:
        """The request as `inbox.record_many` keeps it, leased to `owner`."""
        return (self.key, self.kind, self.mode, self.content_type, self.body, owner)


class Work:
    """The processing of one request in this process: done when nothing of it still runs.

    A command or an interaction is kept in the inbox by the first write transaction of its
    listener (in that transaction) or when the listener acknowledges, whichever comes
    first: always before Slack gets the answer, and at the cost of one write at most.
    """

    def __init__(
        self,
        intake: Intake,
        *,
        row_id: int | None,
        kept: Kept | None = None,
        person: str | None = None,
    ) -> None:
        self.intake = intake
        self.row_id = row_id  # None until kept
        self.kept = kept
        self._pending = 1  # the dispatch itself
        self._applied = False  # a write of this process committed it as applied
        self.handed = False  # handed to the processing worker, which finishes it
        self.journaled = False  # kept in the journal, to be moved into the inbox (hand_over)
        self.answered = row_id is not None  # kept, and answered, before its listener ran
        self.done = threading.Event()  # nothing of it runs any more
        self.after: Work | None = None  # the same person's request before it (Intake.line_up)
        self.person = person  # who sent it (person_of; set by Intake.line_up too)
        self._lock = threading.Lock()

    def begin(self) -> None:
        """A piece of the request's work starts (a listener, deferred work)."""
        with self._lock:
            self._pending += 1

    def end(self) -> None:
        """A piece of the request's work is over; the last one marks the row processed."""
        with self._lock:
            self._pending -= 1
            done = self._pending == 0
        if done:
            self.intake.finished(self)
            self.done.set()
            self.intake.off_line(self)

    def fence(self, session: Session) -> Callable[[], None] | None:
        """Storage's write fence while this request is processed (see bot/core/inbox.fence).

        The first write of a request not kept yet keeps it, applied, in the same transaction;
        the first write of one kept already checks the lease and marks it applied. Writes
        after that are not checked again: what they do is the resumable part, or the outbox's.
        """
        now = utcnow()
        with self._lock:
            row_id, kept, applied = self.row_id, self.kept, self._applied
        if applied:
            return None
        if row_id is not None:
            inbox.fence(session, row_id=row_id, owner=self.intake.owner, now=now)
            return self._was_applied
        assert kept is not None
        rider = RIDER.get()
        if rider is not None:
            rider.run(session)  # with the row that keeps the request (a rate limit's count)
        new_id = inbox.record(
            session,
            **asdict(kept),
            owner=self.intake.owner,
            lease=self.intake.lease,
            now=now,
            applied=True,
        )
        if new_id is None:
            raise inbox.InboxSuperseded(f"{kept.key} is kept already: another delivery has it")

        def kept_and_applied() -> None:
            self._was_applied()
            self.intake.adopt(self, new_id)

        return kept_and_applied

    def _was_applied(self) -> None:
        with self._lock:
            self._applied = True

    def keep(self, owner: str | None = None) -> None:
        """Keep the request if no write did (called when the listener acknowledges), leased
        to this replica or to `owner` (the processing worker that will process it).

        Given to the worker on SQLite over HTTP, it is kept in the journal (web/journal.py),
        after a read-only look at what its rider will write (the declare limit), and moved
        into the inbox by `hand_over`, after the answer."""
        with self._lock:
            if self.row_id is not None or self.kept is None:
                return
            kept = self.kept
        journal = self.intake.journal
        rider = RIDER.get()
        if owner is not None and journal is not None:
            if rider is not None:
                with self.intake.db.read() as session:
                    rider.look(session, kept.key)  # may raise: not kept, answered with the reason
            if journal.write(kept):
                with self._lock:
                    self.journaled = True
                return
            if rider is not None:  # (the disk refused it): kept in the inbox instead,
                rider.ended()  # with the limit's take
        row_id = self.intake.store(**asdict(kept), rider=rider, owner=owner)
        if row_id is None:
            log.info("%s %s is kept already: another delivery has it", kept.kind, kept.key)
            with self._lock:
                self.kept = None
            return
        self.intake.adopt(self, row_id)

    def hand_over(self, handoff: Handoff) -> bool:
        """Give the kept request to the processing worker, which runs it from the start (its
        listener again, then the rest) and marks it processed; False if it cannot take it."""
        with self._lock:
            row_id, kept, journaled = self.row_id, self.kept, self.journaled
            if journaled:
                self.journaled = False
            elif row_id is None or kept is None or self._applied:
                return False
            self.handed = True
        if journaled:  # answered already: moved into the inbox, or left to the sweep
            assert kept is not None
            rider = RIDER.get()
            spec = rider.spec if rider is not None else None
            if (rider is None or spec is not None) and handoff.give(
                kept, self.person, rider=spec, settled=rider.ended if rider is not None else None
            ):
                return True  # the worker moves it (with its rider's write) and processes it
            row_id = self.intake.move(kept, owner=handoff.owner)
            if row_id is None:
                return True
        assert row_id is not None and kept is not None
        self.intake.release(row_id)
        return handoff.send(row_id, kept.content_type, kept.body, self.person)


CURRENT_WORK: ContextVar[Work | None] = ContextVar("incident_bot_inbox_work", default=None)


def current_work() -> Work | None:
    """The inbox row whose processing runs in this context, if any."""
    return CURRENT_WORK.get()
