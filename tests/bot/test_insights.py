"""Insights figures on a seeded history whose answers were worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.insights import figures
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
            1, START + timedelta(hours=10), "sev1", ack=1 * M, identify=10 * M, resolve=1 * H
        ),
        _incident(2, START + timedelta(days=2), "sev1", ack=2 * M, mitigate=30 * M, resolve=2 * H),
        _incident(3, START + timedelta(days=3), "sev2", ack=4 * M, identify=20 * M, resolve=3 * H),
        _incident(
            4,
            START + timedelta(days=10),
            "sev3",
            ack=10 * M,
            identify=60 * M,
            mitigate=90 * M,
            resolve=10 * H,
        ),
        _incident(5, START + timedelta(days=20), "sev3", ack=30 * M),  # still open
        # Outside the period, and a private incident: never counted below.
        _incident(6, START - timedelta(days=1), "sev1", ack=1, resolve=1),
        _incident(7, END, "sev1", ack=1, resolve=1),
        _incident(8, START + timedelta(days=5), "sev4", ack=5 * H, resolve=50 * H, private=True),
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
    assert figures.DETECT_NOTE in got.notes


def test_private_incidents_count_for_members_of_their_channel(seeded: Database) -> None:
    with seeded.read() as session:
        member = figures.compute(session, since=START, until=END, member_channels={"C8"})
        rows = list(
            figures.incident_rows(session, since=START, until=END, member_channels=frozenset())
        )
    assert member.total == 6 and member.by_severity["sev4"] == 1
    assert member.measures["resolve"].count == 5
    assert [r.incident.number for r in rows] == [1, 2, 3, 4, 5]
    assert rows[0].seconds == {
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
    assert figures.interpolate({0: 5.0}, 1, 0.9) == 5.0
    assert figures.interpolate({}, 0, 0.5) is None
    assert figures.interpolate({8: 10.0, 9: 20.0}, 10, 0.9) == pytest.approx(11.0)  # at 8.1


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
