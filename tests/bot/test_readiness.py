"""Readiness habits on a seeded history whose answers were worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.alerts.intake import store
from bot.alerts.parsers import parse_grafana, parse_prometheus
from bot.core.vocabulary import Severity
from bot.insights import readiness
from storage import Database
from storage.models import Incident, IncidentSilence, IncidentUpdate
from storage.models_postmortems import ActionItem, PostMortem
from storage.models_statuspage import StatusIncident, StatusIncidentUpdate
from tests.alert_fixtures import payload

START = datetime(2025, 6, 1, tzinfo=UTC)
END = NOW = datetime(2025, 7, 1, tzinfo=UTC)
TODAY = date(2025, 7, 1)
M = timedelta(minutes=1)
INTERVALS: dict[Severity, timedelta | None] = {
    Severity.SEV1: 30 * M,
    Severity.SEV2: 60 * M,
    Severity.SEV3: None,
    Severity.SEV4: None,
}


def _incident(
    n: int,
    day: int,
    severity: str,
    *,
    ack: int | None,
    resolve: int | None,
    private: bool = False,
) -> Incident:
    declared = START + timedelta(days=day)
    return Incident(
        id=n,
        number=n,
        title=f"incident {n}",
        severity=severity,
        declared_by="U1",
        declare_key=f"k{n}",
        private=private,
        channel_id=f"C{n}",
        status="resolved" if resolve is not None else "investigating",
        declared_at=declared,
        acknowledged_at=declared + ack * M if ack is not None else None,
        resolved_at=declared + resolve * M if resolve is not None else None,
    )


@pytest.fixture
def seeded(db: Database) -> Database:
    incidents = [
        # #1 SEV1: manager in 2 min; updates at +20 and +45, resolved at +70 (longest
        # silence 25 min, within 30): cadence kept; it had a public update.
        _incident(1, 1, "sev1", ack=2, resolve=70),
        # #2 SEV1: manager in 10 min; one update at +40 (40 min of silence): not kept.
        _incident(2, 2, "sev1", ack=10, resolve=60),
        # #3 SEV2: manager in 4 min; no update, resolved at +50 (within 60): kept; public.
        _incident(3, 3, "sev2", ack=4, resolve=50),
        # #4 SEV3: no manager; no reminder interval, so no cadence to keep; still open.
        _incident(4, 4, "sev3", ack=None, resolve=None),
        # #5 private (seen by members of C5 only), #6 before the period: never counted below.
        _incident(5, 5, "sev2", ack=1, resolve=30, private=True),
        _incident(6, -2, "sev1", ack=1, resolve=30),
    ]
    at = {i.number: i.declared_at for i in incidents}
    with db.session() as session:
        session.add_all(incidents)
        session.flush()
        session.add_all(
            [
                IncidentUpdate(incident_id=1, author="U1", message="a", posted_at=at[1] + 20 * M),
                IncidentUpdate(incident_id=1, author="U1", message="b", posted_at=at[1] + 45 * M),
                IncidentUpdate(incident_id=2, author="U1", message="c", posted_at=at[2] + 40 * M),
            ]
        )
        for n in (1, 3, 5):
            public = StatusIncident(
                public_id=f"p{n}", incident_id=n, name="Outage", status="investigating"
            )
            session.add(public)
            session.flush()
            assert public.id is not None
            session.add(
                StatusIncidentUpdate(
                    public_id=f"u{n}",
                    status_incident_id=public.id,
                    status="investigating",
                    body="x",
                )
            )
        # Due dates: #1 done the day before (on time), #2 done 3 days late, #3 due and not
        # done, #4 not due yet (not counted).
        session.add_all(
            [
                PostMortem(
                    incident_id=1,
                    due_on=date(2025, 6, 10),
                    completed_at=datetime(2025, 6, 9, 23, 0, tzinfo=UTC),
                ),
                PostMortem(
                    incident_id=2,
                    due_on=date(2025, 6, 12),
                    completed_at=datetime(2025, 6, 15, 9, 0, tzinfo=UTC),
                ),
                PostMortem(incident_id=3, due_on=date(2025, 6, 20)),
                PostMortem(incident_id=4, due_on=date(2025, 7, 5)),
            ]
        )

        def item(n: int, state: str) -> ActionItem:
            return ActionItem(
                incident_id=n, text="fix", owner="U2", state=state, via="command", created_by="U1"
            )

        session.add_all(
            [item(1, "done"), item(1, "open"), item(2, "done"), item(5, "open"), item(6, "open")]
        )
    # Alertmanager sent alerts a day ago; Grafana last sent 40 days ago (not counted).
    store(db, parse_prometheus(payload("alertmanager_firing")), now=NOW - timedelta(days=1))
    store(db, parse_grafana(payload("grafana_firing")), now=NOW - timedelta(days=40))
    return db


def _habits(db: Database, **kwargs: object) -> dict[str, readiness.Habit]:
    options: dict[str, object] = {
        "since": START,
        "until": END,
        "now": NOW,
        "today": TODAY,
        "status_page_configured": True,
        "intervals": INTERVALS,
        **kwargs,
    }
    with db.read() as session:
        found = readiness.compute(session, **options)  # type: ignore[arg-type]
    return {h.key: h for h in found}


def test_habits_known_answers(seeded: Database) -> None:
    got = _habits(seeded)
    assert list(got) == [
        "alerts",
        "status_page",
        "manager",
        "postmortems",
        "action_items",
        "cadence",
    ]
    alerts = got["alerts"]
    assert alerts.total == 1 and alerts.figure.startswith("1 alert source(s)")
    assert "alertmanager" in alerts.figure and "grafana" not in alerts.figure
    # SEV1/SEV2 in the period that the person sees: #1, #2, #3; public updates for #1, #3.
    assert (got["status_page"].done, got["status_page"].total) == (2, 3)
    # Manager within 5 minutes: #1 (2 min) and #3 (4 min) of #1-#4.
    assert (got["manager"].done, got["manager"].total, got["manager"].share) == (2, 4, 0.5)
    assert "2 of 4 incidents had a manager within 5 minutes (50%)" in got["manager"].figure
    # Post-mortems due or done: #1 (on time), #2 (late), #3 (overdue); #4 not due yet.
    assert (got["postmortems"].done, got["postmortems"].total) == (1, 3)
    # Action items of #1-#4: done, open, done.
    assert (got["action_items"].done, got["action_items"].total) == (2, 3)
    # Cadence: #1 (25 min within 30) and #3 (50 within 60) kept, #2 (40 > 30) not; #4 has
    # no interval.
    assert (got["cadence"].done, got["cadence"].total) == (2, 3)
    assert got["cadence"].kept is False and got["manager"].kept is False
    for habit in got.values():
        assert habit.suggestion and "\n" not in habit.suggestion


def test_members_see_their_private_incidents_and_settings_change_the_answers(
    seeded: Database,
) -> None:
    member = _habits(seeded, member_channels=frozenset({"C5"}))
    assert (member["manager"].done, member["manager"].total) == (3, 5)  # #5: 1 minute
    assert (member["status_page"].done, member["status_page"].total) == (3, 4)
    assert (member["cadence"].done, member["cadence"].total) == (3, 4)  # #5: 30 min, no update
    assert member["action_items"].total == 4
    unset = _habits(seeded, status_page_configured=False)
    assert unset["status_page"].share is None
    assert "No status page is configured" in unset["status_page"].figure
    quiet = _habits(seeded, intervals=dict.fromkeys(Severity))
    assert quiet["cadence"].share is None and "off" in quiet["cadence"].figure


def test_nothing_to_measure(db: Database) -> None:
    got = _habits(db)
    assert got["alerts"].share is None and "No alert source" in got["alerts"].figure
    assert all(h.share is None for h in got.values())


def test_the_database_keeps_each_incidents_longest_silence(db: Database) -> None:
    """Migration 0021's triggers: posting, moving or deleting an update, and resolving,
    change the incident's longest silence and last word (seconds from the declaration);
    the cadence of an open incident also counts the silence since its last word."""
    from sqlalchemy import delete, select, update
    from sqlmodel import col

    def silence() -> tuple[float | None, float | None]:
        with db.read() as session:
            row = session.execute(select(IncidentSilence)).scalar_one()
            return row.longest_silence_seconds, row.last_word_seconds

    def post(minutes: int) -> None:
        with db.session() as session:
            at = START + minutes * M
            session.add(IncidentUpdate(incident_id=1, author="U1", message="x", posted_at=at))

    with db.session() as session:
        session.add(_incident(1, 0, "sev1", ack=1, resolve=None))
    assert silence() == (None, 0)  # only the declaration so far
    post(20)
    assert silence() == (pytest.approx(20 * 60), pytest.approx(20 * 60))
    post(10)  # out of order: gaps 10 and 10 minutes
    assert silence() == (pytest.approx(10 * 60), pytest.approx(20 * 60))

    def cadence(now: datetime) -> tuple[int, int]:
        got = _habits(db, now=now)["cadence"]
        return got.done, got.total

    # Open, SEV1 (30 minutes): kept until 30 minutes after the last update, at +20.
    assert cadence(START + 50 * M) == (1, 1)
    assert cadence(START + 51 * M) == (0, 1)
    with db.session() as session:  # resolved at +90: the last gap is 70 minutes
        row = session.execute(select(Incident).where(col(Incident.id) == 1)).scalar_one()
        row.resolved_at = START + 90 * M
        row.status = "resolved"
    assert silence() == (pytest.approx(70 * 60), pytest.approx(90 * 60))
    with db.session() as session:  # the +20 update moved to +60: gaps 10, 50, 30
        session.execute(
            update(IncidentUpdate)
            .where(col(IncidentUpdate.posted_at) == START + 20 * M)
            .values(posted_at=START + 60 * M)
        )
    assert silence() == (pytest.approx(50 * 60), pytest.approx(90 * 60))
    assert cadence(NOW) == (0, 1)
    with db.session() as session:  # the +10 update deleted: gaps 60, 30
        session.execute(
            delete(IncidentUpdate).where(col(IncidentUpdate.posted_at) == START + 10 * M)
        )
    assert silence() == (pytest.approx(60 * 60), pytest.approx(90 * 60))
    with db.session() as session:  # a later resolution: its gap is the longest
        session.execute(update(Incident).values(resolved_at=START + 150 * M))
    assert silence() == (pytest.approx(90 * 60), pytest.approx(150 * 60))
    with db.session() as session:  # deleting the incident takes its updates along
        session.execute(delete(Incident))
    with db.read() as session:
        assert session.execute(select(IncidentUpdate)).first() is None
        assert session.execute(select(IncidentSilence)).first() is None
