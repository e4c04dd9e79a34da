"""The incident domain on both databases: numbering, idempotency, lifecycle timestamps."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import select

from bot import incidents
from bot.core.errors import InvalidInput
from bot.core.events import IncidentDeclared, IncidentResolved, RoleAssigned, UpdatePosted
from bot.core.vocabulary import Role, Severity, Status
from storage import Database
from storage.models import Incident, IncidentRole
from storage.types import utcnow


def _declare(db: Database, key: str = "k1", **fields: Any) -> tuple[Any, Any]:
    values: dict[str, Any] = {
        "title": "DB down",
        "severity": "sev2",
        "declared_by": "U1",
        "declare_key": key,
    }
    values.update(fields)
    with db.session() as session:
        incident, event = incidents.declare(session, **values)
    return incident, event


def test_numbers_are_sequential_and_keys_idempotent(db: Database) -> None:
    first, event = _declare(db, "a")
    second, _ = _declare(db, "b")
    again, no_event = _declare(db, "a", title="Different title")
    assert (first.number, second.number) == (1, 2)
    assert again.id == first.id and no_event is None
    assert isinstance(event, IncidentDeclared) and event.incident_id == first.id
    with db.session() as session:
        assert len(session.exec(select(Incident)).all()) == 2


def test_concurrent_declarations_get_distinct_consecutive_numbers(db: Database) -> None:
    """Twenty declarations at once (as from several replicas): no clash, no gap, no error."""
    from concurrent.futures import ThreadPoolExecutor

    keys = [f"k{n}" for n in range(20)]
    barrier = threading.Barrier(len(keys))

    def declare(key: str) -> int:
        barrier.wait()
        incident, _ = _declare(db, key)
        return int(incident.number)

    with ThreadPoolExecutor(len(keys)) as pool:
        numbers = list(pool.map(declare, keys))
    assert sorted(numbers) == list(range(1, 21))


def test_declare_key_is_unique_in_the_database(db: Database) -> None:
    from sqlalchemy.exc import IntegrityError

    _declare(db, "same")
    now = utcnow()
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(
            Incident(
                number=99,
                title="x",
                severity="sev1",
                declared_by="U1",
                declare_key="same",
                declared_at=now,
                updated_at=now,
            )
        )


def test_manager_defaults_to_declarer(db: Database) -> None:
    incident, _ = _declare(db)
    with db.session() as session:
        assert incidents.roles_of(session, incident_id=incident.id) == {Role.INCIDENT_MANAGER: "U1"}


@pytest.mark.parametrize(
    ("title", "severity", "field"),
    [
        ("", "sev1", "title"),
        ("x" * 151, "sev1", "title"),
        ("ok", None, "severity"),
        ("ok", "sev7", "severity"),
    ],
)
def test_invalid_declarations_create_nothing(
    db: Database, title: str, severity: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        _declare(db, title=title, severity=severity)
    assert field in info.value.fields
    with db.session() as session:
        assert session.exec(select(Incident)).all() == []


def test_declaring_manager_has_acknowledged(db: Database) -> None:
    incident, _ = _declare(db)
    assert incident.acknowledged_at == incident.declared_at


def test_lifecycle_timestamps_and_acknowledgement(db: Database) -> None:
    incident, _ = _declare(db, manager="U1", declared_by="U9")
    t0 = incident.declared_at
    with db.session() as session:
        inc = incidents.get(session, incident_id=incident.id)
        # Someone other than the manager acts: not an acknowledgement.
        incidents.set_severity(
            session, incident=inc, severity=Severity.SEV1, actor="U2", now=t0 + timedelta(minutes=1)
        )
        assert inc.acknowledged_at is None
        incidents.set_status(
            session,
            incident=inc,
            status=Status.IDENTIFIED,
            actor="U1",
            now=t0 + timedelta(minutes=2),
        )
        incidents.set_status(
            session,
            incident=inc,
            status=Status.MONITORING,
            actor="U1",
            now=t0 + timedelta(minutes=3),
        )
        event = incidents.resolve(
            session,
            incident=inc,
            actor="U1",
            resolution="rolled back",
            now=t0 + timedelta(minutes=4),
        )
    with db.session() as session:
        inc = incidents.get(session, incident_id=incident.id)
    assert inc.acknowledged_at == t0 + timedelta(minutes=2)
    assert inc.identified_at == t0 + timedelta(minutes=2)
    assert inc.monitoring_at == t0 + timedelta(minutes=3)
    assert inc.resolved_at == t0 + timedelta(minutes=4)
    assert inc.status == "resolved" and inc.resolution == "rolled back"
    assert isinstance(event, IncidentResolved) and event.resolution == "rolled back"


def test_same_status_or_resolved_twice_is_refused(db: Database) -> None:
    incident, _ = _declare(db)
    with db.session() as session:
        inc = incidents.get(session, incident_id=incident.id)
        with pytest.raises(InvalidInput, match="already investigating"):
            incidents.set_status(session, incident=inc, status=Status.INVESTIGATING, actor="U1")
        incidents.resolve(session, incident=inc, actor="U1", resolution="")
        with pytest.raises(InvalidInput, match="resolved"):
            incidents.resolve(session, incident=inc, actor="U1", resolution="")
        with pytest.raises(InvalidInput, match="resolved"):
            incidents.post_update(session, incident=inc, author="U1", message="hi")


def test_update_is_one_event_with_optional_status(db: Database) -> None:
    incident, _ = _declare(db)
    with db.session() as session:
        inc = incidents.get(session, incident_id=incident.id)
        event = incidents.post_update(
            session, incident=inc, author="U1", message=" found it ", status=Status.IDENTIFIED
        )
    assert isinstance(event, UpdatePosted) and event.message == "found it"
    assert (event.old_status, event.new_status) == (Status.INVESTIGATING, Status.IDENTIFIED)
    with db.session() as session:
        inc = incidents.get(session, incident_id=incident.id)
    assert inc.status == "identified" and inc.last_update_at == event.at
    with db.session() as session, pytest.raises(InvalidInput):
        incidents.post_update(session, incident=inc, author="U1", message="   ")


def test_role_handover_reports_previous_holder(db: Database) -> None:
    incident, _ = _declare(db)
    with db.session() as session:
        inc = incidents.get(session, incident_id=incident.id)
        event = incidents.assign_role(
            session, incident=inc, role=Role.INCIDENT_MANAGER, user_id="U3", actor="U1"
        )
        with pytest.raises(InvalidInput, match="already"):
            incidents.assign_role(
                session, incident=inc, role=Role.INCIDENT_MANAGER, user_id="U3", actor="U1"
            )
    assert event == RoleAssigned(
        incident_id=incident.id,
        actor="U1",
        at=event.at,
        role=Role.INCIDENT_MANAGER,
        user="U3",
        previous="U1",
    )
    with db.session() as session:
        rows = session.exec(select(IncidentRole)).all()
    assert [(r.role, r.user_id) for r in rows] == [("incident_manager", "U3")]


def test_list_incidents_open_and_all(db: Database) -> None:
    first, _ = _declare(db, "a")
    _declare(db, "b")
    with db.session() as session:
        inc = incidents.get(session, incident_id=first.id)
        incidents.resolve(session, incident=inc, actor="U1", resolution="")
    with db.session() as session:
        open_ = incidents.list_incidents(session)
        everything = incidents.list_incidents(session, include_resolved=True)
    assert [v.incident.number for v in open_] == [2]
    assert [v.incident.number for v in everything] == [2, 1]
    assert everything[0].manager == "U1"
