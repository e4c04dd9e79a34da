"""Insights figures, computed in the database.

Each measure is the time from declaring an incident to one of its milestones: acknowledged
(the incident manager's first action), identified, mitigated (the first move to monitoring)
and resolved. Only incidents that reached the milestone count for it. The durations are
stored on each incident (`*_seconds`, kept by database triggers, migration 0018) and read
through one covering index (`ix_incident_insights`), so a period's figures are aggregates of
plain numbers over a narrow index scan. Medians and 90th percentiles interpolate linearly
between the two nearest values (bot.insights.percentiles: PostgreSQL's `percentile_cont`;
on SQLite, values read at known positions from indexes that keep them sorted).

Time to detect runs the other way: from the incident's detection time (`detected_at`, the
start of the earliest alert linked to it, see bot.alerts.triage.link) to its declaration, so
it counts only incidents that have alerts (`DETECT_NOTE` says so). Drill incidents are left
out of every figure and of the CSV export (`period_filter`, `open_now`). Weeks start on
Monday; weeks and months are in UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, and_, cast, func, literal, select
from sqlmodel import Session, col

from bot.core.vocabulary import Severity, Status
from bot.insights import percentiles
from bot.insights.percentiles import Group, Stat, ms
from bot.permissions.visibility import visible_filter
from storage.models import Incident
from storage.types import UTCDateTime

# name: (label, seconds). Each counts the incidents that reached it (seconds not NULL).
MEASURES: dict[str, tuple[str, Any]] = {
    "detect": ("Time to detect", Incident.detect_seconds),
    "acknowledge": ("Time to acknowledge", Incident.acknowledge_seconds),
    "identify": ("Time to identify", Incident.identify_seconds),
    "mitigate": ("Time to mitigate", Incident.mitigate_seconds),
    "resolve": ("Time to resolve", Incident.resolve_seconds),
}
WALK = "ix_incident_walk_"  # SQLite's walk indexes: + a measure's name, severity, week, month
DETECT_NOTE = (
    "Time to detect runs from the first alert to the declaration; it counts only incidents "
    "linked to alerts."
)
PERIODS = (7, 30, 90, 180, 365)


@dataclass(frozen=True)
class Bucket:
    """One week or month: incidents declared, and how long resolving them took."""

    start: date
    count: int
    resolve: Stat


@dataclass(frozen=True)
class Figures:
    """Everything the insights page, the App Home, /incident stats and the digest show."""

    since: datetime
    until: datetime
    total: int
    open_now: int
    by_severity: dict[str, int]
    measures: dict[str, Stat]
    resolve_by_severity: dict[str, Stat]
    weekly: list[Bucket] = field(default_factory=list)
    monthly: list[Bucket] = field(default_factory=list)
    notes: tuple[str, ...] = (DETECT_NOTE,)

    @property
    def days(self) -> int:
        """The period's length in days."""
        return round((self.until - self.since).total_seconds() / 86400)


def stats(
    session: Session,
    values: dict[str, Any],
    where: Sequence[ColumnElement[bool]],
    group: Any = None,
    *,
    walk: str = "",
    walks: bool | None = None,
    bucket: tuple[Any, Any] | None = None,
) -> dict[Any, Group]:
    """Per `group` (None: one group): the incidents, and count, median, 90th percentile and
    mean of each of `values` (NULL: the incident has not reached it). `walk`: SQLite's walk
    index of `group` (see bot.insights.percentiles); `walks`: force or forbid walking it;
    `bucket`: the group's first and last values in the period, when it is a time bucket."""
    if session.get_bind().dialect.name == "postgresql":
        return percentiles.postgresql(session, values, where, group)
    if group is None:
        return percentiles.sqlite(session, values, where, None, walk=WALK, walks=walks)
    return percentiles.sqlite(session, values, where, group, walk=walk, bucket=bucket, walks=walks)


def week_start(session: Session, at: Any = None) -> ColumnElement[Any]:
    """The Monday (UTC) of the week an incident was declared in (or of `at`), as SQL."""
    at = col(Incident.declared_at) if at is None else at
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", func.timezone("UTC", at)), Date)
    return func.date(at, "weekday 0", "-6 days")


def month_start(session: Session, at: Any = None) -> ColumnElement[Any]:
    """The first day (UTC) of the month an incident was declared in (or of `at`), as SQL."""
    at = col(Incident.declared_at) if at is None else at
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("month", func.timezone("UTC", at)), Date)
    # Stored as UTC text, 'YYYY-MM-DD HH:MM:SS...' (storage.types.UTCDateTime): the month is
    # its first seven characters (cheaper than parsing the date in every row). This and the
    # week's expression are those of the walk indexes (migration 0021): keep them the same.
    return func.substr(at, 1, 7) + "-01"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _buckets(found: dict[Any, Group]) -> list[Bucket]:
    return sorted(
        (Bucket(_as_date(k), g.total, g.stats["resolve"]) for k, g in found.items()),
        key=lambda b: b.start,
    )


def grouped(
    session: Session,
    values: dict[str, Any],
    where: Sequence[ColumnElement[bool]],
    groups: dict[str, Any],
    walks: bool | None = None,
    buckets: dict[str, tuple[Any, Any]] | None = None,
) -> dict[str, dict[Any, Group]]:
    """`stats` per each of `groups` (name: expression; the name completes SQLite's walk
    index; `buckets`: the bounds of those that are time buckets). PostgreSQL: one query
    (GROUPING SETS), one pass over the period."""
    if session.get_bind().dialect.name == "postgresql" and len(groups) > 1:
        return percentiles.postgresql_sets(session, values, where, groups)
    bounds = buckets or {}
    return {
        name: stats(
            session, values, where, group, walk=WALK + name, walks=walks, bucket=bounds.get(name)
        )
        for name, group in groups.items()
    }


def period_filter(
    since: datetime, until: datetime, member_channels: Collection[str]
) -> list[ColumnElement[bool]]:
    """Incidents declared in [since, until) that the person may see."""
    declared = col(Incident.declared_at)
    return [
        and_(declared >= since, declared < until),
        visible_filter(member_channels),
        col(Incident.is_drill).is_(False),  # drills are practice: never in the figures
    ]


def compute(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    member_channels: Collection[str] = frozenset(),
    buckets: bool = True,
    walks: bool | None = None,
) -> Figures:
    """The figures of incidents declared in [since, until) that the person may see
    (`member_channels`: their private incident channels; empty: public incidents only).
    `walks`: on SQLite, force (True) or forbid (False) reading percentiles by walking the
    indexes (None: as bot.insights.percentiles decides; the answers are the same)."""
    where = period_filter(since, until, member_channels)
    open_now = session.execute(
        select(func.count()).where(
            visible_filter(member_channels),
            col(Incident.status).in_([s.value for s in Status if s is not Status.RESOLVED]),
            col(Incident.is_drill).is_(False),
        )
    ).scalar_one()
    durations = {name: col(seconds) for name, (_label, seconds) in MEASURES.items()}
    overall = stats(session, durations, where, walks=walks).get(None)
    groups: dict[str, Any] = {"severity": col(Incident.severity)}
    ends = literal(since, UTCDateTime()), literal(until, UTCDateTime())
    bounds: dict[str, tuple[Any, Any]] = {}
    for name, start in (("week", week_start), ("month", month_start)) if buckets else ():
        groups[name] = start(session)
        bounds[name] = (start(session, ends[0]), start(session, ends[1]))
    found = grouped(session, {"resolve": durations["resolve"]}, where, groups, walks, bounds)
    severities = found["severity"]
    return Figures(
        since=since,
        until=until,
        total=overall.total if overall else 0,
        open_now=int(open_now),
        by_severity={
            s.value: severities[s.value].total if s.value in severities else 0 for s in Severity
        },
        measures={name: overall.stats[name] if overall else Stat() for name in MEASURES},
        resolve_by_severity={
            s.value: severities[s.value].stats["resolve"] if s.value in severities else Stat()
            for s in Severity
        },
        weekly=_buckets(found["week"]) if buckets else [],
        monthly=_buckets(found["month"]) if buckets else [],
    )


def last_days(now: datetime, days: int) -> tuple[datetime, datetime]:
    """[now - days, now]."""
    return now - timedelta(days=days), now


@dataclass(frozen=True)
class IncidentTimes:
    """One incident's row in the CSV export."""

    incident: Incident
    seconds: dict[str, float | None]


def incident_rows(
    session: Session, *, since: datetime, until: datetime, member_channels: Collection[str]
) -> Iterable[IncidentTimes]:
    """Every incident of the period the person may see, with its measures (oldest first)."""
    where = period_filter(since, until, member_channels)
    query = select(Incident).where(*where).order_by(col(Incident.number))
    for incident in session.execute(query).scalars():
        values = {name: getattr(incident, column.key) for name, (_, column) in MEASURES.items()}
        seconds = {name: None if v is None else ms(v) for name, v in values.items()}
        yield IncidentTimes(incident, seconds)
