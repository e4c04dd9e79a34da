"""Incident tags, and the console list narrowed by tag and by status page component."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot import library
from bot.core.errors import InvalidInput
from bot.library import tags
from storage import Database
from storage.models import Incident
from storage.models_statuspage import StatusComponent, StatusIncident

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _incident(n: int, *, private: bool = False) -> Incident:
    return Incident(
        id=n,
        number=n,
        title=f"incident {n}",
        severity="sev2",
        declared_by="U1",
        declare_key=f"k{n}",
        private=private,
        channel_id=f"C{n}",
        declared_at=NOW,
    )


def test_parse_tags() -> None:
    assert tags.parse_tags(" Database, #dns  database ") == ["database", "dns"]
    assert tags.parse_tags("") == []
    for bad in ("<script>", "-lead", "a" * 33, "ünïcode"):
        with pytest.raises(InvalidInput, match="is not a tag"):
            tags.parse_tags(bad)


def test_add_remove_and_limits(db: Database) -> None:
    with db.session() as session:
        session.add(_incident(1))
    with db.session() as session:
        assert tags.add(session, incident_id=1, tags=["dns", "db"], actor="U1", now=NOW) == [
            "db",
            "dns",
        ]
        assert tags.add(session, incident_id=1, tags=["dns"], actor="U2", now=NOW) == ["db", "dns"]
    with pytest.raises(InvalidInput, match="at most 10 tags"), db.session() as session:
        tags.add(session, incident_id=1, tags=[f"t{k}" for k in range(9)], actor="U1", now=NOW)
    with pytest.raises(InvalidInput, match="not tagged `cache`"), db.session() as session:
        tags.remove(session, incident_id=1, tags=["cache"])
    with db.session() as session:
        assert tags.remove(session, incident_id=1, tags=["db"]) == ["dns"]
    with db.read() as session:
        assert tags.tags_of(session, [1]) == {1: ["dns"]}


def test_filter_by_tag_and_component(db: Database) -> None:
    with db.session() as session:
        session.add_all([_incident(1), _incident(2), _incident(3, private=True)])
        session.add_all(
            [
                StatusComponent(id="api", name="API", position=1),
                StatusComponent(id="api-eu", name="API (EU)", position=2),
                StatusComponent(id="web", name="Website", position=3),
                StatusComponent(id="all", name="Everything", is_group=True),
            ]
        )
        session.add_all(
            [
                StatusIncident(
                    public_id="p1", incident_id=1, name="x", status="resolved", component_ids="api"
                ),
                StatusIncident(
                    public_id="p2",
                    incident_id=2,
                    name="y",
                    status="resolved",
                    component_ids="web,api-eu",
                ),
                StatusIncident(
                    public_id="p3", incident_id=3, name="z", status="resolved", component_ids="api"
                ),
            ]
        )
    with db.session() as session:
        tags.add(session, incident_id=2, tags=["dns"], actor="U1", now=NOW)
        tags.add(session, incident_id=3, tags=["dns", "secret"], actor="U1", now=NOW)

    def numbers(channels: frozenset[str] = frozenset(), **params: str) -> list[int]:
        filters = library.parse_filters(params)
        with db.read() as session:
            found = library.search(session, filters, member_channels=channels)
        return [v.incident.number for v in found.views]

    assert numbers(component="api") == [1]  # not api-eu's #2; #3 is private
    assert numbers(frozenset({"C3"}), component="api") == [3, 1]
    assert numbers(component="api-eu") == [2] and numbers(component="web") == [2]
    assert numbers(tag="DNS") == [2]
    assert numbers(frozenset({"C3"}), tag="dns", component="api") == [3]
    with db.read() as session:
        assert tags.components(session) == [
            ("api", "API"),
            ("api-eu", "API (EU)"),
            ("web", "Website"),
        ]
        assert tags.tag_counts(session, frozenset()) == [("dns", 1)]  # #3's tags are private
        assert tags.tag_counts(session, frozenset({"C3"})) == [("dns", 2), ("secret", 1)]
    for bad in ({"component": "a b"}, {"tag": "<x>"}):
        with pytest.raises(InvalidInput) as caught:
            library.parse_filters(bad)
        assert set(caught.value.fields) == set(bad)
