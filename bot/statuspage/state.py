"""The page's version counter, and telling this process when a change has been committed.

Every operation that changes what the public sees calls `changed(session)` in its own
transaction: the counter in `status_page_state` goes up with the change (so every replica's
cache sees it with one cheap read), and once the transaction commits, this process's
listeners (its page cache, its mail sender) are told at once.
"""

from __future__ import annotations

import logging
import secrets
import string
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import event, update
from sqlmodel import Session, col, select

from storage.models_statuspage import StatusPageState
from storage.types import utcnow

log = logging.getLogger(__name__)

_listeners: list[Callable[[], None]] = []
_lock = threading.Lock()
_HOOKED = "statuspage_after_commit"
_ALPHABET = string.ascii_lowercase + string.digits


def public_id() -> str:
    """A fresh 12-character id, like Statuspage's (reveals nothing about internal numbers)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(12))


def on_change(listener: Callable[[], None]) -> Callable[[], None]:
    """Call `listener` after every committed change made in this process; returns an undo."""
    with _lock:
        _listeners.append(listener)

    def remove() -> None:
        with _lock:
            if listener in _listeners:
                _listeners.remove(listener)

    return remove


def notify() -> None:
    """Tell this process's listeners that the page changed."""
    with _lock:
        listeners = list(_listeners)
    for listener in listeners:
        try:
            listener()
        except Exception:
            log.exception("status page change listener failed")


def changed(session: Session, *, now: datetime | None = None) -> None:
    """Raise the page's version in this transaction; notify listeners once it commits."""
    now = now or utcnow()
    result = session.execute(
        update(StatusPageState)
        .where(col(StatusPageState.id) == 1)
        .values(version=col(StatusPageState.version) + 1, changed_at=now)
    )
    if not result.rowcount:  # type: ignore[attr-defined]
        session.add(StatusPageState(id=1, version=1, changed_at=now))
        session.flush()
    notify_after_commit(session)


def notify_after_commit(session: Session) -> None:
    """Tell this process's listeners once `session` commits (e.g. a mail was queued)."""
    if not session.info.get(_HOOKED):
        session.info[_HOOKED] = True

        def after_commit(_session: Session) -> None:
            session.info.pop(_HOOKED, None)
            notify()

        def after_rollback(_session: Session, _previous: object) -> None:
            session.info.pop(_HOOKED, None)

        event.listen(session, "after_commit", after_commit, once=True)
        event.listen(session, "after_soft_rollback", after_rollback, once=True)


def version(session: Session) -> tuple[int, datetime | None]:
    """The page's current version and when it last changed."""
    row = session.exec(select(StatusPageState).where(StatusPageState.id == 1)).first()
    if row is None:
        return 0, None
    return row.version, row.changed_at
