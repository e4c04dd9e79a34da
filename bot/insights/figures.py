"""Insights figures, computed in the database.

Each measure is the time from declaring an incident to one of its milestones: acknowledged
(the incident manager's first action), identified, mitigated (the first move to monitoring)
and resolved. Only incidents that reached the milestone count for it. Medians and 90th
percentiles interpolate linearly between the two nearest values (position (n - 1) * p, as
PostgreSQL's `percentile_cont` and numpy's default do): PostgreSQL computes them with
`percentile_cont`; SQLite numbers the values with a window function and returns only the
(at most two) rows around each percentile, which are interpolated here.

Time to detect needs the time of the first alert, and the bot has no alert data yet, so
there is no such figure (`DETECT_NOTE`). Nor is there a notion of drill incidents yet, so
none are excluded. Weeks start on Monday; weeks and months are in UTC.
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


def stats(
    session: Session,
    value: ColumnElement[float],
    where: Sequence[ColumnElement[bool]],
    group: Any = None,
) -> dict[Any, Stat]:
    """Count, median, 90th percentile and mean of `value` per `group` (None: one group)."""
    keys = [group] if group is not None else []
    if session.get_bind().dialect.name == "postgresql":
        query = select(
            *keys,
            func.count(value),
            func.avg(value),
            *(func.percentile_cont(p).within_group(value) for p in PERCENTILES),
        ).where(*where)
        if group is not None:
            query = query.group_by(group)
        out: dict[Any, Stat] = {}
        for row in session.execute(query).all():
            g, rest = (row[0], row[1:]) if group is not None else (None, row)
            if rest[0]:
                out[g] = Stat(
                    count=int(rest[0]),
                    mean=_ms(rest[1]),
                    median=_ms(rest[2]),
                    p90=_ms(rest[3]),
                )
        return out
    ranked = (
        select(
            *(k.label("g") for k in keys),
            value.label("v"),
            (func.row_number().over(partition_by=keys or None, order_by=value) - 1).label("i"),
            func.count().over(partition_by=keys or None).label("n"),
            func.avg(value).over(partition_by=keys or None).label("mean"),
        )
        .where(*where)
        .subquery()
    )
    near = [func.abs(ranked.c.i - (ranked.c.n - 1) * p) < 1 for p in PERCENTILES]
    group_column = [ranked.c.g] if group is not None else []
    rows = session.execute(
        select(*group_column, ranked.c.i, ranked.c.v, ranked.c.n, ranked.c.mean).where(or_(*near))
    ).all()
    grouped: dict[Any, tuple[int, float, dict[int, float]]] = {}
    for row in rows:
        g, (i, v, n, mean) = (row[0], row[1:]) if group is not None else (None, row)
        grouped.setdefault(g, (int(n), float(mean), {}))[2][int(i)] = _ms(v)
    found: dict[Any, Stat] = {}
    for g, (n, mean, values) in grouped.items():
        median, p90 = (interpolate(values, n, p) for p in PERCENTILES)
        found[g] = Stat(count=n, median=median, p90=p90, mean=_ms(mean))
    return found


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
    counts = dict(
        session.execute(select(bucket, func.count()).where(*where).group_by(bucket)).all()
    )
    resolved = col(Incident.resolved_at)
    resolve = stats(
        session,
        seconds_between(session, col(Incident.declared_at), resolved),
        [*where, resolved.is_not(None)],
        group=bucket,
    )
    return sorted(
        (Bucket(_as_date(k), int(n), resolve.get(k, Stat())) for k, n in counts.items()),
        key=lambda b: b.start,
    )


def period_filter(
    since: datetime, until: datetime, member_channels: Collection[str]
) -> list[ColumnElement[bool]]:
    """Incidents declared in [since, until) that the person may see."""
    declared = col(Incident.declared_at)
    return [and_(declared >= since, declared < until), visible_filter(member_channels)]


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
    by_severity = {
        str(s): int(n)
        for s, n in session.execute(
            select(col(Incident.severity), func.count())
            .where(*where)
            .group_by(col(Incident.severity))
        ).all()
    }
    open_now = session.execute(
        select(func.count()).where(
            visible_filter(member_channels), col(Incident.status) != Status.RESOLVED.value
        )
    ).scalar_one()
    measures: dict[str, Stat] = {}
    for name, (_label, milestone) in MEASURES.items():
        end = col(milestone)
        found = stats(session, seconds_between(session, declared, end), [*where, end.is_not(None)])
        measures[name] = found.get(None, Stat())
    resolved = col(Incident.resolved_at)
    resolve_by_severity = stats(
        session,
        seconds_between(session, declared, resolved),
        [*where, resolved.is_not(None)],
        group=col(Incident.severity),
    )
    return Figures(
        since=since,
        until=until,
        total=sum(by_severity.values()),
        open_now=int(open_now),
        by_severity={s.value: by_severity.get(s.value, 0) for s in Severity},
        measures=measures,
        resolve_by_severity={s.value: resolve_by_severity.get(s.value, Stat()) for s in Severity},
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
