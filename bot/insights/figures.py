"""Insights figures, computed in the database.

Each measure is the time from declaring an incident to one of its milestones: acknowledged
(the incident manager's first action), identified, mitigated (the first move to monitoring)
and resolved. Only incidents that reached the milestone count for it. Medians and 90th
percentiles interpolate linearly between the two nearest values (position (n - 1) * p, as
PostgreSQL's `percentile_cont` and numpy's default do): PostgreSQL computes them with
`percentile_cont`; SQLite numbers the values with a window function and returns only the
(at most two) rows around each percentile, which are interpolated here.

Time to detect needs the time of the first alert, and the bot has no alert data yet, so
there is no such figure (`DETECT_NOTE`). Drill incidents are left out of every figure and of
the CSV export (`period_filter`, `open_now`). Weeks start on Monday; weeks and months are in UTC.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, Float, and_, cast, func, or_, select
from sqlmodel import Session, col

from bot.core.vocabulary import Severity, Status
from bot.permissions.visibility import visible_filter
from storage.models import Incident

MEASURES: dict[str, tuple[str, Any]] = {
    "acknowledge": ("Time to acknowledge", Incident.acknowledged_at),
    "identify": ("Time to identify", Incident.identified_at),
    "mitigate": ("Time to mitigate", Incident.monitoring_at),
    "resolve": ("Time to resolve", Incident.resolved_at),
}
PERCENTILES = (0.5, 0.9)
DETECT_NOTE = (
    "Time to detect (first alert to declared) is not shown: the bot has no alert data yet."
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


def seconds_between(session: Session, start: Any, end: Any) -> ColumnElement[float]:
    """`end - start` in seconds, as SQL for this session's database."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", end - start), Float)
    return (func.julianday(end) - func.julianday(start)) * 86400.0


def _ms(value: Any) -> float:
    """Seconds to the millisecond (SQLite's julianday arithmetic is off by microseconds)."""
    return round(float(value), 3)


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
    values: dict[str, ColumnElement[float]],
    where: Sequence[ColumnElement[bool]],
    group: Any = None,
) -> dict[Any, Group]:
    """Per `group` (None: one group): the incidents, and count, median, 90th percentile and
    mean of each of `values` (NULL: the incident has not reached it) — in one query."""
    keys = [group] if group is not None else []
    if session.get_bind().dialect.name == "postgresql":
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
    inner = select(
        *(k.label("g") for k in keys), *(v.label(name) for name, v in values.items())
    ).where(*where)
    base = inner.subquery()
    part = [base.c.g] if keys else None
    ranked_columns: list[Any] = [base.c.g] if keys else []
    ranked_columns.append(func.count().over(partition_by=part).label("total"))
    for name in values:
        v = base.c[name]
        ranked_columns += [
            v,
            (func.row_number().over(partition_by=part, order_by=(v.is_(None), v)) - 1).label(
                f"{name}__i"
            ),
            func.count(v).over(partition_by=part).label(f"{name}__n"),
            func.avg(v).over(partition_by=part).label(f"{name}__m"),
        ]
    ranked = select(*ranked_columns).subquery()
    near = [
        func.abs(ranked.c[f"{name}__i"] - (ranked.c[f"{name}__n"] - 1) * p) < 1
        for name in values
        for p in PERCENTILES
    ]
    # Every group's first row too, so groups whose incidents reached nothing still count.
    first = [ranked.c[f"{name}__i"] == 0 for name in values]
    rows: Sequence[Any] = session.execute(select(ranked).where(or_(*near, *first))).mappings().all()
    groups: dict[Any, tuple[int, dict[str, tuple[int, float, dict[int, float]]]]] = {}
    for row in rows:
        g = row["g"] if keys else None
        total, found_values = groups.setdefault(g, (int(row["total"]), {}))
        for name in values:
            n, value = int(row[f"{name}__n"]), row[name]
            if not n or value is None:
                continue
            entry = found_values.setdefault(name, (n, _ms(row[f"{name}__m"]), {}))
            entry[2][int(row[f"{name}__i"])] = _ms(value)
    result: dict[Any, Group] = {}
    for g, (total, found_values) in groups.items():
        per: dict[str, Stat] = {}
        for name in values:
            if name not in found_values:
                per[name] = Stat()
                continue
            n, mean, at = found_values[name]
            median, p90 = (interpolate(at, n, p) for p in PERCENTILES)
            per[name] = Stat(count=n, median=median, p90=p90, mean=mean)
        result[g] = Group(total=total, stats=per)
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
    return func.strftime("%Y-%m-01", at)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _buckets(
    session: Session, bucket: ColumnElement[Any], where: list[ColumnElement[bool]]
) -> list[Bucket]:
    resolve = {
        "resolve": seconds_between(session, col(Incident.declared_at), col(Incident.resolved_at))
    }
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
    declared = col(Incident.declared_at)
    open_now = session.execute(
        select(func.count()).where(
            visible_filter(member_channels),
            col(Incident.status) != Status.RESOLVED.value,
            col(Incident.is_drill).is_(False),
        )
    ).scalar_one()
    durations = {
        name: seconds_between(session, declared, col(milestone))
        for name, (_label, milestone) in MEASURES.items()
    }
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
        seconds = {
            name: (
                (getattr(incident, attr.key) - incident.declared_at).total_seconds()
                if getattr(incident, attr.key) is not None
                else None
            )
            for name, (_label, attr) in MEASURES.items()
        }
        yield IncidentTimes(incident, seconds)
