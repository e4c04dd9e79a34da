"""Medians and 90th percentiles on a larger history, against answers computed here.

SQLite reads them two ways (walking the sorted walk indexes of migration 0021, or a window
over the period), PostgreSQL with `percentile_cont`: each must give, for every measure,
severity, week and month, what linear interpolation at (n - 1) * p of the rows gives.
"""

from __future__ import annotations

import random
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event

from bot.insights import figures, percentiles
from storage import Database
from storage.models import Incident

START = datetime(2025, 3, 5, 8, 30, tzinfo=UTC)  # a Wednesday: the first week is partial
END = START + timedelta(days=100)
PRIVATE = "CPRIVATE"


def _rows() -> list[dict[str, Any]]:
    """Incidents from 40 days before the period to 20 days after it: resolved or not, with
    alerts or not, some private, some drills, with ties."""
    rng = random.Random(2021)
    rows = []
    for n in range(1, 241):
        declared = START - timedelta(days=40) + timedelta(hours=n * 16 + rng.randint(0, 600))

        def maybe(share: float, low: int, high: int) -> int | None:
            return rng.randint(low, high) if rng.random() < share else None

        rows.append(
            {
                "n": n,
                "declared": declared,
                "severity": f"sev{rng.randint(1, 4)}",
                "private": n % 17 == 0,
                "drill": n % 23 == 0,
                "detect": maybe(0.3, 10, 3000),
                "acknowledge": maybe(0.95, 5, 900) if n % 7 else 60,  # ties
                "identify": maybe(0.7, 60, 9000),
                "mitigate": maybe(0.6, 100, 20000),
                "resolve": maybe(0.9, 600, 200000),
            }
        )
    return rows


def _incident(row: dict[str, Any]) -> Incident:
    declared: datetime = row["declared"]

    def after(name: str) -> datetime | None:
        seconds = row[name]
        return declared + timedelta(seconds=seconds) if seconds is not None else None

    n = row["n"]
    return Incident(
        number=n,
        title=f"incident {n}",
        severity=row["severity"],
        declared_by="U1",
        declare_key=f"k{n}",
        private=row["private"],
        is_drill=row["drill"],
        channel_id=PRIVATE if n == 17 else f"C{n}",
        status="resolved" if row["resolve"] is not None else "investigating",
        declared_at=declared,
        detected_at=declared - timedelta(seconds=row["detect"]) if row["detect"] else None,
        acknowledged_at=after("acknowledge"),
        identified_at=after("identify"),
        monitoring_at=after("mitigate"),
        resolved_at=after("resolve"),
    )


def _stat(values: list[float]) -> tuple[int, float | None, float | None, float | None]:
    """(count, median, p90, mean) by linear interpolation at (n - 1) * p."""
    if not values:
        return 0, None, None, None
    ordered = sorted(values)

    def at(p: float) -> float:
        position = (len(ordered) - 1) * p
        low = int(position)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (position - low)

    return len(ordered), at(0.5), at(0.9), sum(ordered) / len(ordered)


def _expected(members: set[str]) -> dict[str, Any]:
    seen = [
        r
        for r in _rows()
        if START <= r["declared"] < END
        and not r["drill"]
        and (not r["private"] or (PRIVATE in members and r["n"] == 17))
    ]

    def resolves(rows: list[dict[str, Any]]) -> list[float]:
        return [r["resolve"] for r in rows if r["resolve"] is not None]

    def grouped(key: Any) -> dict[Any, tuple[int, tuple[Any, ...]]]:
        groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
        for r in seen:
            groups[key(r)].append(r)
        return {g: (len(rows), _stat(resolves(rows))) for g, rows in groups.items()}

    def monday(r: dict[str, Any]) -> date:  # weeks start on Monday (UTC)
        return r["declared"].date() - timedelta(days=r["declared"].weekday())

    return {
        "total": len(seen),
        "measures": {m: _stat([r[m] for r in seen if r[m] is not None]) for m in figures.MEASURES},
        "severity": grouped(lambda r: r["severity"]),
        "weekly": grouped(monday),
        "monthly": grouped(lambda r: date(r["declared"].year, r["declared"].month, 1)),
    }


def _same(got: percentiles.Stat, want: tuple[Any, ...]) -> None:
    n, median, p90, mean = want
    assert got.count == n
    for value, expected in ((got.median, median), (got.p90, p90), (got.mean, mean)):
        assert value == (None if expected is None else pytest.approx(expected, abs=0.01))


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.session() as session:
        session.add_all([_incident(r) for r in _rows()])
    return db


@pytest.mark.parametrize("walks", [True, False])
@pytest.mark.parametrize("members", [frozenset(), frozenset({PRIVATE})])
def test_percentiles_match_the_rows(seeded: Database, walks: bool, members: frozenset[str]) -> None:
    want = _expected(set(members))
    with seeded.read() as session:
        got = figures.compute(session, since=START, until=END, member_channels=members, walks=walks)
    assert got.total == want["total"] > 100
    for name in figures.MEASURES:
        _same(got.measures[name], want["measures"][name])
    for sev, stat in got.resolve_by_severity.items():
        total, resolve = want["severity"].get(sev, (0, (0, None, None, None)))
        assert got.by_severity[sev] == total
        _same(stat, resolve)
    for buckets, key in ((got.weekly, "weekly"), (got.monthly, "monthly")):
        assert [b.start for b in buckets] == sorted(want[key])
        for bucket in buckets:
            total, resolve = want[key][bucket.start]
            assert bucket.count == total
            _same(bucket.resolve, resolve)


def test_walks_read_sorted_indexes_without_sorting(seeded: Database) -> None:
    """SQLite: every walk is a search of a covering walk index, with no sort (EXPLAIN); so
    are the counts per week and per month."""
    if not seeded.is_sqlite:
        pytest.skip("PostgreSQL uses percentile_cont")
    ran: list[tuple[str, Any]] = []

    def keep(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        ran.append((statement, parameters))

    event.listen(seeded.engine, "before_cursor_execute", keep)
    try:
        with seeded.read() as session:
            figures.compute(session, since=START, until=END, walks=True)
    finally:
        event.remove(seeded.engine, "before_cursor_execute", keep)
    walks = [(s, p) for s, p in ran if "ix_incident_walk_" in s]
    used = set()
    with seeded.engine.connect() as conn:
        for statement, parameters in walks:
            plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            details = [row[-1] for row in plan]
            assert not [d for d in details if "TEMP B-TREE" in d], details
            reads = [d for d in details if d.startswith(("SCAN incident", "SEARCH incident"))]
            assert reads and all("USING COVERING INDEX ix_incident_walk_" in d for d in reads)
            used |= {d.split("INDEX ")[1].split(" ")[0] for d in reads}
            for d in reads:  # grouped: the walks seek their group, the counts their buckets
                if "walk_week" in d or "walk_month" in d or "walk_severity" in d:
                    assert d.startswith("SEARCH") and ("=?" in d) == ("LIMIT" in statement), d
    assert used == {
        f"ix_incident_walk_{name}" for name in [*figures.MEASURES, "severity", "week", "month"]
    }
