"""Insights figures on a seeded history whose answers were worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlmodel import select

from bot.insights import figures, percentiles
from storage import Database
from storage.models import Incident

START = datetime(2025, 6, 1, tzinfo=UTC)  # a Sunday
END = datetime(2025, 7, 1, tzinfo=UTC)
M, H = 60.0, 3600.0


def _incident(
    n: int,
    declared: datetime,
    severity: str,
    *,
    ack: float | None = None,
    identify: float | None = None,
    mitigate: float | None = None,
    resolve: float | None = None,
    private: bool = False,
    detect: float | None = None,
) -> Incident:
    def after(seconds: float | None) -> datetime | None:
        return declared + timedelta(seconds=seconds) if seconds is not None else None

    return Incident(
        number=n,
        title=f"incident {n}",
        severity=severity,
        declared_by="U1",
        declare_key=f"k{n}",
        private=private,
        channel_id=f"C{n}",
        status="resolved" if resolve is not None else "investigating",
        declared_at=declared,
        detected_at=declared - timedelta(seconds=detect) if detect is not None else None,
        acknowledged_at=after(ack),
        identified_at=after(identify),
        monitoring_at=after(mitigate),
        resolved_at=after(resolve),
    )


def history() -> list[Incident]:
    """Fresh rows each time (a row object belongs to one database)."""
    return [
        # Sunday 1 June: its week starts on Monday 26 May.
        _incident(
            1,
            START + timedelta(hours=10),
            "sev1",
            ack=1 * M,
            identify=10 * M,
            resolve=1 * H,
            detect=5 * M,
        ),
        _incident(
            2,
            START + timedelta(days=2),
            "sev1",
            ack=2 * M,
            mitigate=30 * M,
            resolve=2 * H,
            detect=1 * M,
        ),
        _incident(3, START + timedelta(days=3), "sev2", ack=4 * M, identify=20 * M, resolve=3 * H),
        _incident(
            4,
            START + timedelta(days=10),
            "sev3",
            ack=10 * M,
            identify=60 * M,
            mitigate=90 * M,
            resolve=10 * H,
            detect=20 * M,
        ),
        _incident(5, START + timedelta(days=20), "sev3", ack=30 * M),  # still open
        # Outside the period, and a private incident: never counted below.
        _incident(6, START - timedelta(days=1), "sev1", ack=1, resolve=1),
        _incident(7, END, "sev1", ack=1, resolve=1),
        _incident(
            8,
            START + timedelta(days=5),
            "sev4",
            ack=5 * H,
            resolve=50 * H,
            private=True,
            detect=2 * H,
        ),
    ]


@pytest.fixture
def seeded(db: Database) -> Database:
    with db.session() as session:
        session.add_all(history())
    return db


def test_figures_known_answers(seeded: Database) -> None:
    with seeded.read() as session:
        got = figures.compute(session, since=START, until=END)
    assert got.total == 5 and got.days == 30
    assert got.by_severity == {"sev1": 2, "sev2": 1, "sev3": 2, "sev4": 0}
    assert got.open_now == 1  # #5 (#8 is private)

    # Detect (only #1, #2 and #4 have alerts): 1, 5, 20 minutes. Median 5 min; p90 at
    # position 2 x 0.9 = 1.8: 5 + 0.8 x 15 = 17 min. Mean 26 / 3 min.
    detect = got.measures["detect"]
    assert detect.count == 3
    assert detect.median == pytest.approx(5 * M, abs=0.01)
    assert detect.p90 == pytest.approx(17 * M, abs=0.01)
    assert detect.mean == pytest.approx(26 / 3 * M, abs=0.01)
    # Acknowledge: 1, 2, 4, 10, 30 minutes. Median: the 3rd value, 4 min. p90: position
    # 4 x 0.9 = 3.6, so 10 min + 0.6 x (30 - 10) min = 22 min. Mean: 47 / 5 = 9.4 min.
    ack = got.measures["acknowledge"]
    assert ack.count == 5
    assert ack.median == pytest.approx(4 * M, abs=0.01)
    assert ack.p90 == pytest.approx(22 * M, abs=0.01)
    assert ack.mean == pytest.approx(9.4 * M, abs=0.01)
    # Identify: 10, 20, 60 min. Median 20; p90 at 1.8: 20 + 0.8 x 40 = 52 min.
    ident = got.measures["identify"]
    assert ident.count == 3
    assert ident.median == pytest.approx(20 * M, abs=0.01)
    assert ident.p90 == pytest.approx(52 * M, abs=0.01)
    # Mitigate: 30, 90 min. Median 60; p90 at 0.9: 30 + 0.9 x 60 = 84 min.
    mitigate = got.measures["mitigate"]
    assert (mitigate.count, mitigate.median, mitigate.p90) == (
        2,
        pytest.approx(60 * M, abs=0.01),
        pytest.approx(84 * M, abs=0.01),
    )
    # Resolve: 1, 2, 3, 10 h. Median at 1.5: 2.5 h; p90 at 2.7: 3 + 0.7 x 7 = 7.9 h.
    resolve = got.measures["resolve"]
    assert resolve.count == 4
    assert resolve.median == pytest.approx(2.5 * H, abs=0.01)
    assert resolve.p90 == pytest.approx(7.9 * H, abs=0.01)
    # By severity: sev1 resolved in 1 h and 2 h (median 1.5 h, p90 1.9 h); sev3 in 10 h.
    sev1 = got.resolve_by_severity["sev1"]
    assert sev1.count == 2 and sev1.median == pytest.approx(1.5 * H, abs=0.01)
    assert sev1.p90 == pytest.approx(1.9 * H, abs=0.01)
    assert got.resolve_by_severity["sev3"].median == pytest.approx(10 * H, abs=0.01)
    assert got.resolve_by_severity["sev4"].count == 0

    # Weeks start on Monday: 26 May (#1, Sunday 1 June), 2 June (#2, #3), 9 June (#4),
    # 16 June (#5, open).
    weeks = [(b.start, b.count, b.resolve.count) for b in got.weekly]
    assert weeks == [
        (date(2025, 5, 26), 1, 1),
        (date(2025, 6, 2), 2, 1 + 1),
        (date(2025, 6, 9), 1, 1),
        (date(2025, 6, 16), 1, 0),
    ]
    assert got.weekly[1].resolve.median == pytest.approx(2.5 * H, abs=0.01)
    assert [(b.start, b.count) for b in got.monthly] == [(date(2025, 6, 1), 5)]


def test_private_incidents_count_for_members_of_their_channel(seeded: Database) -> None:
    with seeded.read() as session:
        member = figures.compute(session, since=START, until=END, member_channels={"C8"})
        rows = list(
            figures.incident_rows(session, since=START, until=END, member_channels=frozenset())
        )
    assert member.total == 6 and member.by_severity["sev4"] == 1
    assert member.measures["resolve"].count == 5
    assert member.measures["detect"].count == 4  # #8's two hours join 1, 5 and 20 min
    assert member.measures["detect"].median == pytest.approx(12.5 * M, abs=0.01)
    assert [r.incident.number for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].seconds == {
        "detect": pytest.approx(300),
        "acknowledge": pytest.approx(60),
        "identify": pytest.approx(600),
        "mitigate": None,
        "resolve": pytest.approx(3600),
    }


def test_empty_period(db: Database) -> None:
    with db.read() as session:
        got = figures.compute(session, since=START, until=END)
    assert got.total == 0 and got.weekly == [] and got.measures["resolve"] == figures.Stat()


def test_interpolation() -> None:
    assert percentiles.interpolate({0: 5.0}, 1, 0.9) == 5.0
    assert percentiles.interpolate({}, 0, 0.5) is None
    assert percentiles.interpolate({8: 10.0, 9: 20.0}, 10, 0.9) == pytest.approx(11.0)  # at 8.1


def test_digest_schedule() -> None:
    from bot.insights.digest import digest_key, parse_schedule

    schedule = parse_schedule("mon 09:00", timezone="Europe/Paris")
    assert schedule is not None and parse_schedule("") is None and parse_schedule("off") is None
    wednesday = datetime(2026, 3, 4, 12, 0, tzinfo=UTC)
    start = schedule.period_start(wednesday)
    assert start.isoformat() == "2026-03-02T09:00:00+01:00"
    assert digest_key(start) == "digest:2026-03-02T08:00Z"
    assert schedule.period_start(datetime(2026, 3, 2, 7, 59, tzinfo=UTC)).day == 23  # Feb
    for bad in ("someday 09:00", "mon 25:00", "mon 9", "mon"):
        with pytest.raises(ValueError, match="weekly schedule"):
            parse_schedule(bad)


def test_the_database_keeps_each_incidents_durations(db: Database) -> None:
    """Migration 0018's triggers: inserted rows get their durations, and changing a
    timestamp (through the ORM or a plain UPDATE) changes them; none without both ends."""
    from sqlalchemy import update

    with db.session() as session:
        session.add(_incident(1, START, "sev2", ack=90, detect=30))
    with db.session() as session:
        row = session.exec(select(Incident)).one()
        assert (row.detect_seconds, row.acknowledge_seconds) == (
            pytest.approx(30),
            pytest.approx(90),
        )
        assert row.resolve_seconds is None and row.identify_seconds is None
        row.resolved_at = START + timedelta(hours=2)
        session.add(row)
    with db.session() as session:
        session.execute(
            update(Incident).values(
                declared_at=START + timedelta(minutes=1), monitoring_at=START + timedelta(hours=1)
            )
        )
    with db.read() as session:
        row = session.exec(select(Incident)).one()
    assert row.resolve_seconds == pytest.approx(2 * H - 60)
    assert row.mitigate_seconds == pytest.approx(H - 60)
    assert row.acknowledge_seconds == pytest.approx(30)
    assert row.detect_seconds == pytest.approx(90)
