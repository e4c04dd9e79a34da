"""Readiness: how the team keeps the habits the process ends with, from the bot's own data.

Six habits it can measure, each an aggregate query over the incidents of a period that the
person may see (bot.permissions.visibility), with a one-line suggestion:

- monitoring and alerts: the alert sources that sent something in the last 30 days;
- a status page: configured or not, and the share of SEV1/SEV2 incidents that had a public
  update on it;
- an incident manager: the share of incidents whose manager acknowledged within 5 minutes
  of the declaration (`acknowledge_seconds`, kept by the database);
- written post-mortems: of the post-mortems whose due date has passed (or that are done),
  the share completed by their due date (the UTC day of completion, on or before it);
- action items: the share closed;
- communicating: the share of incidents whose update cadence was kept: no gap between the
  declaration, each update and the resolution (or now) longer than the severity's reminder
  interval (`REMINDER_INTERVALS`; severities without one do not count). The longest gap so
  far is kept per incident by the database (`incident_silence`, migration 0021).

A habit with nothing to measure yet says so (`share` is None) rather than showing 0%.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Float,
    case,
    cast,
    exists,
    func,
    literal,
    select,
)
from sqlmodel import Session, col

from bot.core.vocabulary import Severity
from bot.insights.figures import period_filter
from storage.models import Incident, IncidentSilence
from storage.models_alerts import Alert
from storage.models_postmortems import ActionItem, PostMortem
from storage.models_statuspage import StatusIncident, StatusIncidentUpdate
from storage.types import UTCDateTime

ALERT_DAYS = 30
MANAGER_WITHIN = timedelta(minutes=5)
GOOD = 0.8  # a share at or above this keeps the habit
PUBLIC_SEVERITIES = (Severity.SEV1.value, Severity.SEV2.value)


@dataclass(frozen=True)
class Habit:
    """One habit: what was measured (plain text), the share kept, and what to do next."""

    key: str
    title: str
    figure: str
    share: float | None  # done / total, None when there was nothing to measure
    done: int
    total: int
    suggestion: str

    @property
    def kept(self) -> bool | None:
        """True when the share reaches GOOD (None: nothing measured)."""
        return None if self.share is None else self.share >= GOOD


def _share(done: Any, total: Any) -> tuple[int, int, float | None]:
    d, t = int(done or 0), int(total or 0)
    return d, t, (d / t if t else None)


def _meeting(condition: ColumnElement[bool]) -> tuple[Any, Any]:
    """Columns: how many rows, and how many of them meet `condition`."""
    return func.count(), func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _tally(session: Session, query: Any) -> tuple[int, int, float | None]:
    """(done, total, share) of a query selecting `_meeting(...)`."""
    total, done = session.execute(query).one()
    return _share(done, total)


def _suggest(share: float | None, *, keep: str, improve: str) -> str:
    """`keep` when the habit is kept (or nothing was measured), else `improve`."""
    return keep if share is None or share >= GOOD else improve


def _percent(share: float | None) -> str:
    return "—" if share is None else f"{round(share * 100)}%"


def _epoch(session: Session, at: Any) -> ColumnElement[float]:
    """A timestamp as seconds (to subtract: each moment is converted once)."""
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.extract("epoch", at), Float)
    return func.julianday(at) * 86400.0


def _day(session: Session, at: Any) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", at), Date)
    return func.date(at)


def alerts_habit(session: Session, *, now: datetime) -> Habit:
    """Alert sources that sent something in the last 30 days."""
    rows = session.execute(
        select(col(Alert.source), func.count())
        .where(col(Alert.last_received_at) >= now - timedelta(days=ALERT_DAYS))
        .group_by(col(Alert.source))
        .order_by(col(Alert.source))
    ).all()
    sources = [f"{source} ({n})" for source, n in rows]
    if not sources:
        return Habit(
            "alerts",
            "Monitoring and alerts",
            f"No alert source sent anything in the last {ALERT_DAYS} days.",
            None,
            0,
            0,
            "Point your monitoring (Alertmanager, Grafana, PagerDuty...) at the bot's /hooks "
            "endpoints so alerts reach the triage channel and time to detect is measured.",
        )
    return Habit(
        "alerts",
        "Monitoring and alerts",
        f"{len(sources)} alert source(s) sent alerts in the last {ALERT_DAYS} days: "
        + ", ".join(sources)
        + ".",
        1.0,
        len(sources),
        len(sources),
        "Link alerts to the incidents they started, so time to detect is measured.",
    )


def status_page_habit(
    session: Session, where: list[ColumnElement[bool]], *, configured: bool
) -> Habit:
    """Configured or not, and SEV1/SEV2 incidents that had a public update."""
    public = exists(
        select(col(StatusIncidentUpdate.id))
        .join(
            StatusIncident, col(StatusIncident.id) == col(StatusIncidentUpdate.status_incident_id)
        )
        .where(col(StatusIncident.incident_id) == col(Incident.id))
    )
    done, total, share = _tally(
        session,
        select(*_meeting(public)).where(*where, col(Incident.severity).in_(PUBLIC_SEVERITIES)),
    )
    if not configured:
        figure = "No status page is configured"
        figure += f"; {total} SEV1/SEV2 incident(s) in the period." if total else "."
        suggestion = (
            "Set STATUS_PAGE_FILE so customers read about SEV1/SEV2 incidents from you first."
        )
        return Habit("status_page", "A status page", figure, None, done, total, suggestion)
    figure = (
        f"{done} of {total} SEV1/SEV2 incidents had a public update ({_percent(share)})."
        if total
        else "No SEV1/SEV2 incidents in the period."
    )
    suggestion = _suggest(
        share,
        keep="Keep posting to the status page for every SEV1/SEV2 incident.",
        improve="Post a public update (`/incident statuspage`) early in every SEV1/SEV2 incident.",
    )
    return Habit("status_page", "A status page", figure, share, done, total, suggestion)


def manager_habit(session: Session, where: list[ColumnElement[bool]]) -> Habit:
    """Incidents whose manager acknowledged within 5 minutes."""
    # To the millisecond (SQLite's julianday arithmetic is off by microseconds).
    fast = col(Incident.acknowledge_seconds) <= MANAGER_WITHIN.total_seconds() + 0.001
    done, total, share = _tally(session, select(*_meeting(fast)).where(*where))
    minutes = int(MANAGER_WITHIN.total_seconds() // 60)
    figure = (
        f"{done} of {total} incidents had a manager within {minutes} minutes ({_percent(share)})."
        if total
        else "No incidents in the period."
    )
    suggestion = _suggest(
        share,
        keep="Keep naming an incident manager as soon as an incident is declared.",
        improve="Name an incident manager when declaring (the declare form has a field for it).",
    )
    return Habit("manager", "An incident manager", figure, share, done, total, suggestion)


def postmortem_habit(session: Session, where: list[ColumnElement[bool]], *, today: date) -> Habit:
    """Post-mortems done by their due date, of those due (or done)."""
    completed = col(PostMortem.completed_at)
    due_on = col(PostMortem.due_on)
    on_time = (completed.is_not(None)) & (_day(session, completed) <= due_on)
    done, total, share = _tally(
        session,
        select(*_meeting(on_time))
        .select_from(PostMortem)
        .join(Incident, col(Incident.id) == col(PostMortem.incident_id))
        .where(*where, due_on.is_not(None), completed.is_not(None) | (due_on < today)),
    )
    figure = (
        f"{done} of {total} post-mortems due were done by their due date ({_percent(share)})."
        if total
        else "No post-mortem has come due yet."
    )
    suggestion = _suggest(
        share,
        keep="Keep writing post-mortems while the incident is fresh.",
        improve="Give each post-mortem an owner and book the review before its due date.",
    )
    return Habit("postmortems", "Written post-mortems", figure, share, done, total, suggestion)


def action_items_habit(session: Session, where: list[ColumnElement[bool]]) -> Habit:
    """Action items closed, of those the period's incidents left."""
    closed = col(ActionItem.state) == "done"
    done, total, share = _tally(
        session,
        select(*_meeting(closed))
        .select_from(ActionItem)
        .join(Incident, col(Incident.id) == col(ActionItem.incident_id))
        .where(*where),
    )
    figure = (
        f"{done} of {total} action items are closed ({_percent(share)})."
        if total
        else "No action items in the period."
    )
    suggestion = _suggest(
        share,
        keep="Keep closing action items: they are what stops the next incident.",
        improve="Review open action items weekly (`/incident actions`) and close or re-plan them.",
    )
    return Habit("action_items", "Action items", figure, share, done, total, suggestion)


def cadence_habit(
    session: Session,
    where: list[ColumnElement[bool]],
    *,
    intervals: Mapping[Severity, timedelta | None],
    now: datetime,
) -> Habit:
    """Incidents whose longest silence (declaration, updates, resolution or now) stayed within
    their severity's reminder interval."""
    limits = {s.value: i.total_seconds() for s, i in intervals.items() if i is not None}
    if not limits:
        return Habit(
            "cadence",
            "Communicating",
            "Update reminders are off for every severity.",
            None,
            0,
            0,
            "Set REMINDER_INTERVALS so the channel hears from the incident at a steady pace.",
        )
    # The longest silence so far, kept per incident by the database (incident_silence,
    # migration 0021): for an open incident, also the one since its last word (declaration
    # or update) until now. (An update dated after `now` counts as said by now.)
    silence = func.coalesce(col(IncidentSilence.longest_silence_seconds), 0.0)
    since_last = _epoch(session, literal(now, UTCDateTime())) - _epoch(
        session, col(Incident.declared_at)
    )
    so_far = since_last - func.coalesce(col(IncidentSilence.last_word_seconds), 0.0)
    longest = case(
        (col(Incident.resolve_seconds).is_not(None), silence),  # resolved: declared till then
        (so_far > silence, so_far),
        else_=silence,
    )
    limit = case(
        *((col(Incident.severity) == sev, seconds) for sev, seconds in limits.items()),
        else_=None,
    )
    kept = longest <= limit + 0.001  # to the millisecond, as above
    done, total, share = _tally(
        session,
        select(*_meeting(kept))
        .select_from(Incident)
        .outerjoin(IncidentSilence, col(IncidentSilence.incident_id) == col(Incident.id))
        .where(*where, col(Incident.severity).in_(list(limits))),
    )
    figure = (
        f"{done} of {total} incidents kept their update cadence ({_percent(share)})."
        if total
        else "No incidents with update reminders in the period."
    )
    suggestion = (
        "Keep posting updates at the pace the reminders ask for."
        if share is None or share >= GOOD
        else "Post an update (`/incident update`) at least as often as the reminders ask, "
        "even when nothing changed."
    )
    return Habit("cadence", "Communicating", figure, share, done, total, suggestion)


def compute(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    today: date,
    member_channels: Collection[str] = frozenset(),
    status_page_configured: bool,
    intervals: Mapping[Severity, timedelta | None],
) -> list[Habit]:
    """Every habit, for the incidents declared in [since, until) the person may see."""
    where = period_filter(since, until, member_channels)
    return [
        alerts_habit(session, now=now),
        status_page_habit(session, where, configured=status_page_configured),
        manager_habit(session, where),
        postmortem_habit(session, where, today=today),
        action_items_habit(session, where),
        cadence_habit(session, where, intervals=intervals, now=now),
    ]
