"""Events: one dataclass per kind, JSON round trips, and the bus's order and isolation."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import FrozenInstanceError
from datetime import UTC, date, datetime
from typing import Any

import pytest

from bot.core import events as ev
from bot.core.vocabulary import Role, Severity, Status

AT = datetime(2026, 3, 4, 15, 0, 1, 250, tzinfo=UTC)
WHO: dict[str, Any] = {"incident_id": 7, "actor": "U0ALICE01", "at": AT}

# One example of every kind (the test below fails when a kind is added without one).
EXAMPLES: list[ev.Event] = [
    ev.IncidentDeclared(**WHO),
    ev.StatusChanged(**WHO, old=Status.INVESTIGATING, new=Status.IDENTIFIED),
    ev.SeverityChanged(**WHO, old=Severity.SEV3, new=Severity.SEV1),
    ev.RoleAssigned(**WHO, role=Role.INCIDENT_MANAGER, user="U0BOB0001", previous="U0ALICE01"),
    ev.RoleAssigned(**WHO, role=Role.SCRIBE, user="U0BOB0001"),
    ev.UpdatePosted(
        **WHO,
        update_id=3,
        message='Rolled back "v2" <@U0BOB0001> & *bold*\nline two',
        old_status=Status.IDENTIFIED,
        new_status=Status.MONITORING,
    ),
    ev.IncidentResolved(**WHO, old=Status.MONITORING, resolution="Rolled back"),
    ev.ActionItemCreated(
        **WHO, item_id=4, owner="U0BOB0001", due_on=date(2026, 3, 20), thread_ts="1.000200"
    ),
    ev.ActionItemCreated(**WHO, item_id=5, owner="U0BOB0001"),
    ev.ActionItemCompleted(**WHO, item_id=4),
    ev.PostmortemOpened(**WHO, due_on=date(2026, 3, 13)),
    ev.PostmortemOpened(**WHO),
    ev.PostmortemEdited(**WHO),
    ev.PostmortemCompleted(**WHO),
]


def test_every_kind_round_trips_through_json() -> None:
    assert {type(e) for e in EXAMPLES} == set(ev.kinds().values())
    for event in EXAMPLES:
        text = event.to_json()
        data = json.loads(text)
        assert data["kind"] == event.kind and data["incident_id"] == 7
        assert data["at"] == "2026-03-04T15:00:01.000250+00:00"
        back = ev.from_json(text)
        assert back == event and type(back) is type(event)


def test_kinds_keep_the_names_timeline_entries_are_keyed_by() -> None:
    assert set(ev.kinds()) >= {
        "declared",
        "status_changed",
        "severity_changed",
        "role_assigned",
        "update_posted",
        "resolved",
    }


def test_bad_json_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown event kind"):
        ev.from_json('{"kind": "exploded", "incident_id": 1}')
    with pytest.raises(ValueError, match="without actor"):
        ev.from_json('{"kind": "declared", "incident_id": 1, "at": "2026-03-04T15:00:00+00:00"}')
    good = json.loads(EXAMPLES[1].to_json())
    with pytest.raises(ValueError):
        ev.from_json(json.dumps({**good, "new": "exploded"}))
    with pytest.raises(ValueError, match="expected int"):
        ev.from_json(json.dumps({**good, "incident_id": "7"}))
    with pytest.raises(ValueError, match="JSON object"):
        ev.from_json("[]")


def test_events_are_frozen_and_a_kind_is_taken_once() -> None:
    with pytest.raises(FrozenInstanceError):
        EXAMPLES[0].actor = "U0MALLORY"  # type: ignore[misc]
    with pytest.raises(TypeError, match="two event classes"):

        class Again(ev.IncidentEvent):
            kind = "declared"


def test_the_bus_calls_subscribers_of_the_kind_in_order_and_survives_a_failure() -> None:
    bus = ev.EventBus()
    calls: list[tuple[str, str]] = []

    def record(name: str) -> Callable[[ev.Event], None]:
        return lambda event: calls.append((name, event.kind))

    def broken(event: ev.Event) -> None:
        raise RuntimeError("Slack is down")

    bus.subscribe("incidents", record("incidents"), ev.IncidentEvent)
    bus.subscribe("broken", broken, ev.Event)
    bus.subscribe("resolved", record("resolved"), ev.IncidentResolved)
    bus.subscribe("items", record("items"), ev.ActionItemEvent, ev.PostmortemCompleted)
    for event in EXAMPLES:
        bus.publish(event)
    assert calls == [
        ("incidents", "declared"),
        ("incidents", "status_changed"),
        ("incidents", "severity_changed"),
        ("incidents", "role_assigned"),
        ("incidents", "role_assigned"),
        ("incidents", "update_posted"),
        ("incidents", "resolved"),
        ("resolved", "resolved"),
        ("items", "action_item_created"),
        ("items", "action_item_created"),
        ("items", "action_item_completed"),
        ("items", "postmortem_completed"),
    ]
    assert [name for name, _ in bus.subscribers()] == ["incidents", "broken", "resolved", "items"]
    with pytest.raises(ValueError, match="no kind"):
        bus.subscribe("nothing", record("nothing"))


def test_as_list_takes_none_one_or_several() -> None:
    one, two = EXAMPLES[0], EXAMPLES[1]
    assert ev.as_list(None) == []
    assert ev.as_list(one) == [one]
    assert ev.as_list([one, two]) == [one, two]
    assert ev.as_list(()) == []
