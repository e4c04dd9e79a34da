"""GET /console/insights (figures, tables and Chart.js charts) and /console/insights.csv."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from bot.core.vocabulary import Severity
from bot.insights import figures, readiness
from bot.slack.insights import habits
from storage.types import utcnow
from web.console.auth import Auth
from web.console.pages import Pages
from web.console.render import SECURITY_HEADERS, page
from web.console.session import Viewer

DEFAULT_DAYS = 30
CSV_COLUMNS = [
    "number",
    "title",
    "severity",
    "status",
    "detected_at",
    "declared_at",
    "acknowledged_at",
    "identified_at",
    "mitigated_at",
    "resolved_at",
    "seconds_to_detect",
    "seconds_to_acknowledge",
    "seconds_to_identify",
    "seconds_to_mitigate",
    "seconds_to_resolve",
]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(text: str) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula (CSV injection)."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def period_days(request: Request) -> int:
    """?days= one of figures.PERIODS (default 30)."""
    text = request.query_params.get("days", "")
    return int(text) if text.isdigit() and int(text) in figures.PERIODS else DEFAULT_DAYS


def chart_data(found: figures.Figures) -> dict[str, Any]:
    """What static/insights.js draws (hours, rounded)."""

    def hours(value: float | None) -> float | None:
        return round(value / 3600, 2) if value is not None else None

    return {
        "weeks": [b.start.isoformat() for b in found.weekly],
        "weekly_counts": [b.count for b in found.weekly],
        "weekly_resolve_median": [hours(b.resolve.median) for b in found.weekly],
        "severities": [Severity(s).label for s in found.by_severity],
        "severity_counts": list(found.by_severity.values()),
        "measures": [figures.MEASURES[m][0] for m in found.measures],
        "medians": [hours(s.median) for s in found.measures.values()],
        "p90s": [hours(s.p90) for s in found.measures.values()],
    }


@dataclass
class Insights:
    """The insights routes."""

    pages: Pages
    auth: Auth

    def _figures(self, viewer: Viewer, days: int) -> tuple[figures.Figures, list[readiness.Habit]]:
        now = utcnow()
        since, until = figures.last_days(now, days)
        channels = self.pages.member_channels(viewer)
        services = self.pages.services
        with services.db.read() as session:
            found = figures.compute(session, since=since, until=until, member_channels=channels)
            kept = habits(
                services, session, since=since, until=until, now=now, member_channels=channels
            )
        return found, kept

    def insights(self, request: Request, viewer: Viewer) -> Response:
        days = period_days(request)
        found, kept = self._figures(viewer, days)
        return page(
            "insights.html",
            figures=found,
            habits=kept,
            days=days,
            periods=figures.PERIODS,
            labels={name: label for name, (label, _) in figures.MEASURES.items()},
            chart=chart_data(found),
            **self.pages.common(viewer, "insights"),
        )

    def export(self, request: Request, viewer: Viewer) -> Response:
        days = period_days(request)
        since, until = figures.last_days(utcnow(), days)
        channels = self.pages.member_channels(viewer)
        db = self.pages.services.db

        def rows() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(CSV_COLUMNS)
            with db.read() as session:
                for row in figures.incident_rows(
                    session, since=since, until=until, member_channels=channels
                ):
                    inc = row.incident
                    times = [inc.detected_at, inc.declared_at, inc.acknowledged_at]
                    times += [inc.identified_at]
                    times += [inc.monitoring_at, inc.resolved_at]
                    writer.writerow(
                        [
                            inc.number,
                            csv_safe(inc.title),
                            inc.severity,
                            inc.status,
                            *(at.isoformat() if at else "" for at in times),
                            *("" if s is None else f"{s:.0f}" for s in row.seconds.values()),
                        ]
                    )
                    if buffer.tell() > 64 * 1024:
                        yield buffer.getvalue()
                        buffer.seek(0)
                        buffer.truncate()
            yield buffer.getvalue()

        filename = f"incidents-{since.date().isoformat()}-{until.date().isoformat()}.csv"
        headers = {**SECURITY_HEADERS, "Content-Disposition": f'attachment; filename="{filename}"'}
        return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)

    def routes(self) -> list[Route]:
        return [
            Route("/insights", self.auth.signed_in(self.insights), methods=["GET"]),
            Route("/insights.csv", self.auth.signed_in(self.export), methods=["GET"]),
        ]
