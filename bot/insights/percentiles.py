"""Counts, means, medians and 90th percentiles of incident durations, in the database.

Percentiles interpolate linearly between the two nearest values (position (n - 1) * p, as
PostgreSQL's `percentile_cont` and numpy's default do). PostgreSQL computes everything in
one aggregate query with `percentile_cont`. SQLite has no such aggregate: one aggregate query
counts (and averages) each group's values, so the (at most two) positions around each
percentile are known; then the values at those positions are read, either

- by walking an index that holds them in sorted order (the "walk" indexes of migration
  0021, `ix_incident_walk_*`): `ORDER BY value LIMIT 2 OFFSET k` reads k + 2 index entries
  and sorts nothing (positions past the middle are read from the other end, DESC); all the
  walks of a call go in one statement. A walk also passes the
  entries outside the period, so it is taken when the period holds at least a quarter of
  all incidents, or when the index starts with the group (weeks, months: a walk reads only
  its own bucket);
- or by a window over the period (ROW_NUMBER, and COUNT per group), which sorts the period's
  values once per value: cheaper for a short period in a long history.

SQLite's queries name their index (INDEXED BY), so a plan never depends on table statistics.
Their SQL is compiled from the same SQLAlchemy conditions as PostgreSQL's, with the values
inlined (SQLAlchemy's literal rendering, which quotes strings).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, func, literal, select
from sqlmodel import Session

PERCENTILES = (0.5, 0.9)
COVERING = "ix_incident_insights"  # every column the figures filter on and aggregate
WALK_SHARE = 0.25  # walk (instead of a window) when the period holds this share of incidents


@dataclass(frozen=True)
class Stat:
    """How long one measure took over a set of incidents, in seconds."""

    count: int = 0
    median: float | None = None
    p90: float | None = None
    mean: float | None = None


@dataclass(frozen=True)
class Group:
    """One group's incidents: how many, and the stats of each measure."""

    total: int
    stats: dict[str, Stat]


def ms(value: Any) -> float:
    """Seconds to the millisecond (SQLite's julianday arithmetic is off by microseconds)."""
    return round(float(value), 3)


def lows(n: int) -> list[int]:
    """The lower of the two positions (0-based, sorted) each percentile of n values is read
    from (the other is the next one)."""
    return sorted({int((n - 1) * p) for p in PERCENTILES})


def positions(n: int) -> set[int]:
    """The positions (0-based, in sorted order) the percentiles of n values are read from."""
    return {i for low in lows(n) for i in (low, min(low + 1, n - 1))}


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


def postgresql(
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
                Stat(count=int(n), mean=ms(mean), median=ms(median), p90=ms(p90)) if n else Stat()
            )
        out[g] = Group(total=int(rest[0]), stats=found)
    return out


def postgresql_sets(
    session: Session,
    values: dict[str, Any],
    where: Sequence[ColumnElement[bool]],
    groups: dict[str, Any],
) -> dict[str, dict[Any, Group]]:
    """`postgresql` for several groupings at once: one query, GROUPING SETS (one scan of the
    period instead of one per grouping)."""
    keys = list(groups.values())
    columns: list[Any] = [func.grouping(key) for key in keys] + keys + [func.count()]
    for value in values.values():
        columns += [func.count(value), func.avg(value)]
        columns += [func.percentile_cont(p).within_group(value) for p in PERCENTILES]
    query = select(*columns).where(*where).group_by(func.grouping_sets(*keys))
    out: dict[str, dict[Any, Group]] = {name: {} for name in groups}
    k = len(keys)
    for row in session.execute(query).all():
        # GROUPING(key) is 0 for the key this row is grouped by.
        j = [row[i] for i in range(k)].index(0)
        rest = row[2 * k :]
        found: dict[str, Stat] = {}
        for m, name in enumerate(values):
            n, mean, median, p90 = rest[1 + 4 * m : 5 + 4 * m]
            found[name] = (
                Stat(count=int(n), mean=ms(mean), median=ms(median), p90=ms(p90)) if n else Stat()
            )
        out[list(groups)[j]][row[k + j]] = Group(total=int(rest[0]), stats=found)
    return out


def sqlite(
    session: Session,
    values: dict[str, Any],
    where: Sequence[ColumnElement[bool]],
    group: Any,
    *,
    walk: str | None,
    bucket: tuple[Any, Any] | None = None,
    walks: bool | None = None,
) -> dict[Any, Group]:
    """The stats of `values` per `group` (None: one group). `walk` names the index holding
    `group` (or, without a group, each value: `walk` then is a prefix, completed with the
    value's name) then the value in order. `bucket`: the group is a time bucket (week, month)
    whose index starts with it, and these are its first and last values in the period: a walk
    reads only its bucket's entries, and the counts read that index in group order (no sort;
    the bounds, implied by the period, let it seek). `walks` forces (True) or forbids (False)
    walking."""
    sql = _Sql(session)
    key = sql(group) if group is not None else "0"
    cond = sql(and_(*where))
    aggregates = ", ".join(f"count({sql(v)}), avg({sql(v)})" for v in values.values())
    totals: dict[Any, tuple[int, dict[str, tuple[int, float | None]]]] = {}
    index, seek = COVERING, ""
    if bucket is not None and walks is not False:
        index, seek = str(walk), f"{key} BETWEEN {sql(bucket[0])} AND {sql(bucket[1])} AND "
    rows = sql.run(
        f"SELECT {key}, count(*), {aggregates} FROM incident INDEXED BY {index} "
        f"WHERE {seek}{cond} GROUP BY 1"
    )
    for row in rows:
        per = {name: (int(row[2 + 2 * k]), row[3 + 2 * k]) for k, name in enumerate(values)}
        totals[row[0]] = (int(row[1]), per)
    if walks is None and totals:
        walks = bucket is not None or _worth_walking(sql, sum(t for t, _ in totals.values()))
    read = _walk if walks else _window
    near = read(sql, values, totals, cond, group, walk)
    result: dict[Any, Group] = {}
    for g, (total, per) in totals.items():
        got: dict[str, Stat] = {}
        for name in values:
            n, mean = per[name]
            at = near.get((name, g), {})
            if not n or not at:
                got[name] = Stat()
                continue
            median, p90 = (interpolate(at, n, p) for p in PERCENTILES)
            got[name] = Stat(count=n, median=median, p90=p90, mean=ms(mean))
        result[g if group is not None else None] = Group(total=total, stats=got)
    return result


class _Sql:
    """SQLite text compiled from SQLAlchemy expressions (values inlined), and its runner."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = session.get_bind().dialect

    def __call__(self, element: Any) -> str:
        return str(element.compile(dialect=self.dialect, compile_kwargs={"literal_binds": True}))

    def run(self, text: str, parameters: tuple[Any, ...] = ()) -> list[Any]:
        # exec_driver_sql: the text goes to sqlite3 as it is, with `parameters` for its `?`s.
        return list(self.session.connection().exec_driver_sql(text, parameters).all())


def _worth_walking(sql: _Sql, period: int) -> bool:
    """A walk passes every incident with a smaller value, in the period or not."""
    every = sql.run("SELECT count(*) FROM incident")[0][0]
    return period >= WALK_SHARE * every


Near = dict[tuple[str, Any], dict[int, float]]  # (value name, group) -> {position: value}


def _walk(
    sql: _Sql,
    values: dict[str, Any],
    totals: dict[Any, tuple[int, dict[str, tuple[int, float | None]]]],
    cond: str,
    group: Any,
    walk: str | None,
) -> Near:
    """One statement: per value, group and percentile, the two values from its position on,
    read in order from the walk index (no sort)."""
    parts: list[str] = []
    groups: list[Any] = []  # each part's group: its one bind parameter (grouped only)
    asked: list[tuple[str, Any, int]] = []
    mine = f" AND {sql(group)} = ?" if group is not None else ""
    for name, value in values.items():
        v = sql(value)
        index = walk if group is not None else f"{walk}{name}"
        for g, (_total, per) in totals.items():
            n = per[name][0]
            for low in lows(n) if n else []:
                # From the nearer end: a 90th percentile is read backwards from the largest.
                ahead = n - 2 - low if low > (n - 1) / 2 else None
                order = f"{v} DESC" if ahead is not None and ahead >= 0 else v
                parts.append(
                    f"SELECT * FROM (SELECT {len(asked)} AS a, {v} AS v "
                    f"FROM incident INDEXED BY {index} WHERE {cond}{mine} AND {v} IS NOT NULL "
                    f"ORDER BY {order} LIMIT 2 OFFSET {low if order == v else ahead})"
                )
                asked.append((name, g, low))
                groups += [g] if group is not None else []
    got: dict[int, list[float]] = {}
    for start in range(0, len(parts), 400):  # SQLite allows 500 parts in a compound SELECT
        text = " UNION ALL ".join(parts[start : start + 400])
        for a, found in sql.run(text, tuple(groups[start : start + 400])):
            got.setdefault(a, []).append(ms(found))
    near: Near = {}
    for a, (name, g, low) in enumerate(asked):
        at = near.setdefault((name, g), {})
        for i, found in enumerate(sorted(got.get(a, []))):
            at[low + i] = found
    return near


def _window(
    sql: _Sql,
    values: dict[str, Any],
    totals: dict[Any, tuple[int, dict[str, tuple[int, float | None]]]],
    cond: str,
    group: Any,
    walk: str | None,
) -> Near:
    """Per value, one query numbering its values within each group (one sort of the period)
    and returning only the rows at each group's positions (known from its count)."""
    key = sql(group) if group is not None else "0"
    near: Near = {}
    for name, value in values.items():
        wanted = [
            f"(g = {sql(literal(g))} AND i IN ({', '.join(map(str, sorted(positions(n))))}))"
            for g, (_total, per) in totals.items()
            if (n := per[name][0])
        ]
        if not wanted:
            continue
        v = sql(value)
        rows = sql.run(
            f"SELECT g, i, v FROM (SELECT {key} AS g, {v} AS v, "
            f"row_number() OVER (PARTITION BY {key} ORDER BY {v}) - 1 AS i "
            f"FROM incident INDEXED BY {COVERING} WHERE {cond} AND {v} IS NOT NULL) "
            f"WHERE {' OR '.join(wanted)}"
        )
        for g, i, found in rows:
            near.setdefault((name, g), {})[int(i)] = ms(found)
    return near
