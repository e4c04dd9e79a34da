"""Operations that span transactions: declaring with retries on number clashes."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from bot import incidents
from bot.core.events import IncidentEvent
from bot.slack.services import Services
from storage.models import Incident

DECLARE_ATTEMPTS = 5


def declare_incident(services: Services, **fields: Any) -> tuple[Incident, IncidentEvent | None]:
    """Create the incident (not yet publishing its event); the same declare_key gives one.

    Two replicas may pick the same next number at once: the unique constraint rejects one,
    which tries again with a fresh number. A second submission of the same form finds the
    first incident by its declare_key and returns it with no event.
    """
    for attempt in range(DECLARE_ATTEMPTS):
        try:
            with services.db.session() as session:
                incident, event = incidents.declare(session, **fields)
                if event is not None:
                    services.record(session, event)  # in the declaration's transaction
                return incident, event
        except IntegrityError:
            with services.db.session() as session:
                existing = session.exec(
                    select(Incident).where(Incident.declare_key == fields["declare_key"])
                ).first()
            if existing is not None:
                return existing, None
            if attempt == DECLARE_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
