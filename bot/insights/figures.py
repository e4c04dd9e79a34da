"""Insights figures, computed in the database.

Each measure is the time from declaring an incident to one of its milestones: acknowledged
(the incident manager's first action), identified, mitigated (the first move to monitoring)
and resolved. Only incidents that reached the milestone count for it. The durations are
stored on each incident (`*_seconds`, kept by database triggers, migration 0018) and read
through one covering index (`ix_incident_insights`), so a period's figures are aggregates of
plain numbers over a narrow index scan. Medians and 90th percentiles interpolate linearly
between the two nearest values (position (n - 1) * p, as PostgreSQL's `percentile_cont` and
numpy's default do): PostgreSQL computes them with `percentile_cont`; SQLite numbers the
values with a window function and returns only the (at most two) rows around each
percentile, which are interpolated here.

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

from sqlalchemy import ColumnElement, Date, and_, cast, func, literal, or_, select
from sqlmodel import Session, col

from bot.core.vocabulary import Severity, Status
from bot.permissions.visibility import visible_filter
from storage.models import Incident

# name: (label, seconds). Each counts the incidents that reached it (seconds not NULL).
MEASURES: dict[str, tuple[str, Any]] = {
    "detect": ("Time to detect", Incident.detect_seconds),
    "acknowledge": ("Time to acknowledge", Incident.acknowledge_seconds),
    "identify": ("Time to identify", Incident.identify_seconds),
    "mitigate": ("Time to mitigate", Incident.mitigate_seconds),
    "resolve": ("Time to resolve", Incident.resolve_seconds),
}
PERCENTILES = (0.5, 0.9)
DETECT_NOTE = (
    "Time to detect runs from the first alert to the declaration; it counts only incidents "
    "linked to alerts."
)
PERIODS = (7, 30, 90, 180, 365)


@dataclass(frozen=True)
class Stat:
    """How long one measure took over a set of incidents, in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    mean: float | None = None


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


def _ms(value: Any) -> float:
    """Seconds to the millisecond (SQLite's julianday arithmetic is off by microseconds)."""
    return round(float(value), 3)


def positions(n: int) -> set[int]:
    """The positions (0-based, in sorted order) the percentiles of n values are read from."""
    out: set[int] = set()
    for p in PERCENTILES:
        low = int((n - 1) * p)
        out |= {low, min(low + 1, n - 1)}
    return out


def interpolate(values: dict[int, float], n: int, p: float) -> float | None:
    """The p-th percentile of n sorted values, given the values at the positions around it."""
    if n == 0:
        return None
    position = (n - 1) * p
    low = int(position)
    high = min(low + 1, n - 1)
    if low not in values:
        return None
    if high == low or high not in values:
        return values[low]
    return values[low] + (values[high] - values[low]) * (position - low)


@dataclass(frozen=True)
class Group:
    """One group's incidents: how many, and the stats of each measure."""

    total: int
    stats: dict[str, Stat]


def stats(
    session: Session,
    values: dict[str, Any],
    where: Sequence[ColumnElement[bool]],
    group: Any = None,
) -> dict[Any, Group]:
    """Per `group` (None: one group): the incidents, and count, median, 90th percentile and
    mean of each of `values` (NULL: the incident has not reached it)."""
    if session.get_bind().dialect.name == "postgresql":
        return _stats_postgresql(session, values, where, group)
    return _stats_sqlite(session, values, where, group)


def _stats_postgresql(
    session: Session, values: dict[str, Any], where: Sequence[ColumnElement[bool]], group: Any
) -> dict[Any, Group]:
    """One aggregate query: `percentile_cont` does the interpolation."""
    keys = [group] if group is not None else []
    columns: list[Any] = [*keys, func.count()]
    for value in values.values():
        columns += [func.count(value), func.avg(value)]
        columns += [func.percentile_cont(p).within_group(value) for p in PERCENTILES]
    query = select(*columns).where(*where)
    if group is not None:
        query = query.group_by(group)
    out: dict[Any, Group] = {}
    for row in session.execute(query).all():
        g, rest = (row[0], row[1:]) if group is not None else (None, row)
        found: dict[str, Stat] = {}
        for k, name in enumerate(values):
            n, mean, median, p90 = rest[1 + 4 * k : 5 + 4 * k]
            found[name] = (
                Stat(count=int(n), mean=_ms(mean), median=_ms(median), p90=_ms(p90))
                if n
                else Stat()
            )
        out[g] = Group(total=int(rest[0]), stats=found)
    return out


def _stats_sqlite(
    session: Session, values: dict[str, Any], where: Sequence[ColumnElement[bool]], group: Any
) -> dict[Any, Group]:
    """An aggregate query (incidents, count and mean of each value per group), then per value
    one query that numbers its values within each group and returns only the (at most two)
    rows around each percentile, interpolated here. One value per query, and without groups
    one window (its positions come from the count): SQLite evaluates each window of another
    order or partition in one more sorting pass over the whole set."""
    key = (group if group is not None else literal(0)).label("g")
    aggregate: list[Any] = [key, func.count()]
    for value in values.values():
        aggregate += [func.count(value), func.avg(value)]
    totals: dict[Any, tuple[int, dict[str, tuple[int, float | None]]]] = {}
    for row in session.execute(select(*aggregate).where(*where).group_by(key)).all():
        per = {name: (int(row[2 + 2 * k]), row[3 + 2 * k]) for k, name in enumerate(values)}
        totals[row[0]] = (int(row[1]), per)
    near_values: dict[str, dict[Any, dict[int, float]]] = {}
    for name, value in values.items():
        wanted = {
            g: sorted(positions(per[name][0]))
            for g, (_total, per) in totals.items()
            if per[name][0]
        }
        if not wanted:
            continue
        window = [func.row_number().over(partition_by=key, order_by=value) - 1]
        if group is not None:  # each group's count, for its positions
            window.append(func.count().over(partition_by=key))
        ranked = (
            select(key, value.label("v"), window[0].label("i"), *(w.label("n") for w in window[1:]))
            .where(*where, value.is_not(None))
            .subquery()
        )
        near: list[ColumnElement[bool]]
        if group is None:  # one group: its positions are known from the count
            near = [ranked.c.i.in_(wanted[next(iter(wanted))])]
        else:
            near = [func.abs(ranked.c.i - (ranked.c.n - 1) * p) < 1 for p in PERCENTILES]
        query = select(ranked.c.g, ranked.c.i, ranked.c.v).where(or_(*near))
        found = near_values.setdefault(name, {})
        for g, i, v in session.execute(query).all():
            found.setdefault(g, {})[int(i)] = _ms(v)
    result: dict[Any, Group] = {}
    for g, (total, per) in totals.items():
        got: dict[str, Stat] = {}
        for name in values:
            n, mean = per[name]
            at = near_values.get(name, {}).get(g, {})
            if not n or not at:
                got[name] = Stat()
                continue
            median, p90 = (interpolate(at, n, p) for p in PERCENTILES)
            got[name] = Stat(count=n, median=median, p90=p90, mean=_ms(mean))
        result[g if group is not None else None] = Group(total=total, stats=got)
    return result


def week_start(session: Session) -> ColumnElement[Any]:
    """The Monday (UTC) of the week an incident was declared in, as SQL."""
    at = col(Incident.declared_at)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("week", func.timezone("UTC", at)), Date)
    return func.date(at, "weekday 0", "-6 days")


def month_start(session: Session) -> ColumnElement[Any]:
    """The first day (UTC) of the month an incident was declared in, as SQL."""
    at = col(Incident.declared_at)
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.date_trunc("month", func.timezone("UTC", at)), Date)
    # Stored as UTC text, 'YYYY-MM-DD HH:MM:SS...' (storage.types.UTCDateTime): the month is
    # its first seven characters (cheaper than parsing the date in every row).
    return func.substr(at, 1, 7) + "-01"


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _buckets(
    session: Session, bucket: ColumnElement[Any], where: list[ColumnElement[bool]]
) -> list[Bucket]:
    resolve = {"resolve": col(Incident.resolve_seconds)}
    found = stats(session, resolve, where, group=bucket)
    return sorted(
        (Bucket(_as_date(k), g.total, g.stats["resolve"]) for k, g in found.items()),
        key=lambda b: b.start,
    )


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
) -> Figures:
    """The figures of incidents declared in [since, until) that the person may see
    (`member_channels`: their private incident channels; empty: public incidents only)."""
    where = period_filter(since, until, member_channels)
    open_now = session.execute(
        select(func.count()).where(
            visible_filter(member_channels),
            col(Incident.status) != Status.RESOLVED.value,
            col(Incident.is_drill).is_(False),
        )
    ).scalar_one()
    durations = {name: col(seconds) for name, (_label, seconds) in MEASURES.items()}
    overall = stats(session, durations, where).get(None)
    severities = stats(
        session, {"resolve": durations["resolve"]}, where, group=col(Incident.severity)
    )
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
        weekly=_buckets(session, week_start(session), where) if buckets else [],
        monthly=_buckets(session, month_start(session), where) if buckets else [],
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
        seconds = {name: None if v is None else _ms(v) for name, v in values.items()}
        yield IncidentTimes(incident, seconds)
