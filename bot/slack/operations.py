"""Operations that span transactions: declaring with retries on number clashes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from bot import incidents
from bot.core.events import IncidentDeclared
from bot.slack.services import Services
from storage.models import Incident

DECLARE_ATTEMPTS = 5


def declare_incident(
    services: Services,
    *,
    then: Callable[[Session, Incident], None] | None = None,
    on_commit: Callable[[], object] | None = None,
    **fields: Any,
) -> tuple[Incident, bool]:
    """Create the incident and publish IncidentDeclared; the same declare_key gives one.

    Returns the incident and whether this call created it. Two replicas may pick the same
    next number at once: the unique constraint rejects one, which tries again with a fresh
    number. A second submission of the same form finds the first incident by its
    declare_key and returns it, publishing nothing. `then` runs in the declaration's
    transaction (the status page publishes there); `on_commit` once it has committed, before
    the event is published (to close the form first).
    """
    made: list[Incident] = []

    def declare(session: Session) -> IncidentDeclared | None:
        incident, event = incidents.declare(session, **fields)
        if event is not None and then is not None:
            then(session, incident)  # e.g. publish it, in the same transaction
        made.append(incident)
        return event

    for attempt in range(DECLARE_ATTEMPTS):
        made.clear()
        try:
            event = services.apply(declare, on_commit=on_commit)
        except IntegrityError:
            with services.db.session() as session:
                existing = session.exec(
                    select(Incident).where(Incident.declare_key == fields["declare_key"])
                ).first()
            if existing is not None:
                return existing, False
            if attempt == DECLARE_ATTEMPTS - 1:
                raise
            continue
        return made[-1], event is not None
    raise AssertionError("unreachable")
