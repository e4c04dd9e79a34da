"""90 days of uptime per component, summed by the database from the status spans.

A day (in the page's time zone) is coloured by the worst status the component had that
day; its uptime counts a major outage as downtime and a partial outage as 30% of it, as
Statuspage does (degraded performance and maintenance are not downtime).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import BigInteger, Integer, and_, case, func, literal, select, union_all
from sqlmodel import Session, col

from bot.statuspage.vocabulary import ComponentStatus
from storage.models_statuspage import StatusComponentSpan

DAYS = 90


@dataclass(frozen=True)
class Day:
    """One component's day."""

    day: date
    seconds: dict[ComponentStatus, int] = field(default_factory=dict)
    incidents: tuple[str, ...] = ()

    @property
    def covered(self) -> int:
        """Seconds of the day the component existed (0: no data)."""
        return sum(self.seconds.values())

    @property
    def worst(self) -> ComponentStatus | None:
        """The worst status that day (None when there is no data)."""
        present = [s for s, n in self.seconds.items() if n > 0]
        return max(present, key=lambda s: s.rank) if present else None

    @property
    def downtime(self) -> float:
        """Weighted seconds of downtime."""
        return sum(n * s.downtime_weight for s, n in self.seconds.items())

    @property
    def uptime(self) -> float | None:
        """Percentage up, or None without data."""
        if not self.covered:
            return None
        return 100.0 * (1 - self.downtime / self.covered)


@dataclass(frozen=True)
class ComponentUptime:
    """A component's last 90 days, oldest first."""

    component_id: str
    days: tuple[Day, ...]

    @property
    def uptime(self) -> float | None:
        """Percentage up over the days with data."""
        covered = sum(d.covered for d in self.days)
        if not covered:
            return None
        return 100.0 * (1 - sum(d.downtime for d in self.days) / covered)


def day_bounds(now: datetime, tz: ZoneInfo, days: int = DAYS) -> list[tuple[date, int, int]]:
    """(day, start, end) in Unix seconds for the last `days` local days; today ends now."""
    today = now.astimezone(tz).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time(0), tzinfo=tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
        # Today ends a second after now, so a status set this very second shows.
        today_end = int(now.timestamp()) + 1
        out.append((day, int(start.timestamp()), min(int(end.timestamp()), today_end)))
    return out


def seconds_by_day(
    session: Session, *, now: datetime, tz: ZoneInfo, days: int = DAYS
) -> dict[str, dict[date, dict[ComponentStatus, int]]]:
    """component id -> day -> status -> seconds, summed in SQL (same query on both databases)."""
    bounds = day_bounds(now, tz, days)
    now_s = int(now.timestamp()) + 1  # open spans last until the end of today's bound
    rows = union_all(
        *(
            select(
                literal(n, Integer).label("n"),
                literal(start, BigInteger).label("s"),
                literal(end, BigInteger).label("e"),
            )
            for n, (_day, start, end) in enumerate(bounds)
        )
    ).subquery("days")
    span = StatusComponentSpan
    end = func.coalesce(col(span.end_s), literal(now_s, BigInteger))
    overlap_end = case((end < rows.c.e, end), else_=rows.c.e)
    overlap_start = case((col(span.start_s) > rows.c.s, col(span.start_s)), else_=rows.c.s)
    query = (
        select(
            col(span.component_id),
            rows.c.n,
            col(span.status),
            func.sum(overlap_end - overlap_start).label("seconds"),
        )
        .select_from(span)
        .join(rows, and_(col(span.start_s) < rows.c.e, end > rows.c.s))
        .where(col(span.start_s) < now_s)
        .group_by(col(span.component_id), rows.c.n, col(span.status))
    )
    out: dict[str, dict[date, dict[ComponentStatus, int]]] = {}
    for component_id, n, status, seconds in session.execute(query):
        if not seconds or seconds <= 0:
            continue
        day = bounds[int(n)][0]
        per_day = out.setdefault(component_id, {}).setdefault(day, {})
        per_day[ComponentStatus(status)] = per_day.get(ComponentStatus(status), 0) + int(seconds)
    return out


def uptime(
    session: Session,
    *,
    component_ids: list[str],
    now: datetime,
    tz: ZoneInfo,
    incidents: dict[str, dict[date, list[str]]] | None = None,
    days: int = DAYS,
) -> dict[str, ComponentUptime]:
    """Each component's 90 days (with the names of the public incidents of each day)."""
    sums = seconds_by_day(session, now=now, tz=tz, days=days)
    bounds = day_bounds(now, tz, days)
    names = incidents or {}
    return {
        cid: ComponentUptime(
            component_id=cid,
            days=tuple(
                Day(
                    day=day,
                    seconds=sums.get(cid, {}).get(day, {}),
                    incidents=tuple(names.get(cid, {}).get(day, [])),
                )
                for day, _start, _end in bounds
            ),
        )
        for cid in component_ids
    }


def incident_days(
    spans: list[tuple[str, list[str], datetime, datetime | None]],
    *,
    now: datetime,
    tz: ZoneInfo,
) -> dict[str, dict[date, list[str]]]:
    """component id -> day -> names of the incidents open that day that affected it."""
    out: dict[str, dict[date, list[str]]] = {}
    earliest = (now - timedelta(days=DAYS)).astimezone(tz).date()
    for name, component_ids, started, ended in spans:
        first = max(started.astimezone(tz).date(), earliest)
        last = (ended or now).astimezone(tz).date()
        day = first
        while day <= last:
            for cid in component_ids:
                out.setdefault(cid, {}).setdefault(day, []).append(name)
            day += timedelta(days=1)
    return out
