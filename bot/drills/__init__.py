"""Drills: practice incidents, optionally playing a game-day scenario, scored at the end.

A drill is an incident with `is_drill` set. What keeps it inside its channel is enforced
where each side effect is decided, each in one place: the status page refuses it
(`bot.statuspage.publish.never_public`, and the public snapshot leaves it out), stakeholder
notices to groups are held unless its manager confirms a group, webhooks and Mastodon never
hear of it (`bot.stakeholders.planning.targets`), alert escalation never pages for it
(`bot.alerts.triage.claim_due_levels`), the broadcast channel never hears of it
(`bot.slack.surfaces`), and the figures leave it out (`bot.insights.figures.period_filter`).

This module starts a drill (its run row and its scenario's steps, each due at the start plus
its offset: `bot.drills.claims` plays them through the delivery engine), records the status
page update the team would have published, ends a drill, and computes its score.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise

from sqlalchemy import update
from sqlmodel import Session, col, delete, func, select

from bot import incidents
from bot.core.errors import InvalidInput, NotFound
from bot.core.events import IncidentResolved
from bot.core.vocabulary import Role
from bot.drills.scenario import Scenario
from storage.models import Incident, IncidentRole, IncidentUpdate
from storage.models_drills import DrillRun, DrillStep
from storage.models_postmortems import PostMortem
from storage.types import utcnow

ENDED = "Drill ended."
STATUSPAGE_MAX = 3000


def start(
    session: Session,
    *,
    incident: Incident,
    actor: str,
    scenario: Scenario | None = None,
    unmanaged: bool = False,
    now: datetime | None = None,
) -> DrillRun:
    """Make `incident` a drill (in its declaration's transaction) and plan its scenario.

    `unmanaged`: the person starting it facilitates and does not manage it, so the team
    names a manager (what the score times); the incident has no manager and is not
    acknowledged yet. Starting the same incident again returns its run and plans nothing.
    """
    assert incident.id is not None
    existing = run_of(session, incident_id=incident.id)
    if existing is not None:
        return existing
    now = now or utcnow()
    incident.is_drill = True
    if unmanaged:
        session.execute(
            delete(IncidentRole).where(
                col(IncidentRole.incident_id) == incident.id,
                col(IncidentRole.role) == Role.INCIDENT_MANAGER.value,
            )
        )
        incident.acknowledged_at = None
    session.add(incident)
    run = DrillRun(
        incident_id=incident.id,
        scenario=scenario.name if scenario else "",
        started_by=actor,
        started_at=now,
    )
    session.add(run)
    for position, step in enumerate(scenario.steps if scenario else ()):
        session.add(
            DrillStep(
                incident_id=incident.id,
                position=position,
                kind=step.kind.value,
                speaker=step.speaker,
                icon=step.icon,
                subject=step.subject,
                text=step.text,
                due_at=now + step.at,
            )
        )
    session.flush()
    return run


def run_of(session: Session, *, incident_id: int) -> DrillRun | None:
    """The drill run of this incident (None: not a drill)."""
    return session.exec(select(DrillRun).where(DrillRun.incident_id == incident_id)).first()


def record_statuspage(
    session: Session, *, incident: Incident, message: str, now: datetime | None = None
) -> bool:
    """The status page update a drill's team asked for, kept for the score and never
    published. True when it is the drill's first one (the one the score times)."""
    text = (message or "").strip()
    if not text:
        raise InvalidInput("Write the message customers would read.")
    if len(text) > STATUSPAGE_MAX:
        raise InvalidInput(f"At most {STATUSPAGE_MAX} characters (it has {len(text)}).")
    assert incident.id is not None
    run = run_of(session, incident_id=incident.id)
    if run is None or not incident.is_drill:
        raise InvalidInput(f"Incident #{incident.number} is not a drill.")
    if run.statuspage_at is not None:
        return False
    run.statuspage_at, run.statuspage_message = now or utcnow(), text
    session.add(run)
    return True


def stop_steps(session: Session, *, incident_id: int) -> int:
    """Steps not played yet will not play (the drill is over); returns how many."""
    result = session.execute(
        update(DrillStep)
        .where(col(DrillStep.incident_id) == incident_id, col(DrillStep.played_at).is_(None))
        .values(due_at=None)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def end(
    session: Session, *, incident: Incident, actor: str, now: datetime | None = None
) -> IncidentResolved:
    """`/incident drill end`: resolve the drill (its score follows) and stop its script."""
    if not incident.is_drill:
        raise InvalidInput(
            f"Incident #{incident.number} is a real incident, not a drill. "
            "Resolve it with `/incident resolve`."
        )
    now = now or utcnow()
    event = incidents.resolve(session, incident=incident, actor=actor, resolution=ENDED, now=now)
    assert incident.id is not None
    run = run_of(session, incident_id=incident.id)
    if run is not None:
        run.ended_at = now
        session.add(run)
    stop_steps(session, incident_id=incident.id)
    return event


@dataclass(frozen=True)
class Score:
    """How the team did against the process, in seconds from the start (None: never)."""

    number: int
    title: str
    scenario: str
    acknowledge: float | None
    manager: float | None
    first_update: float | None
    statuspage: float | None
    updates: int
    on_cadence: int  # gaps between the start, the updates and the end within the interval
    gaps: int
    interval: float | None  # the severity's expected update interval (None: no cadence)
    postmortem: bool
    duration: float | None


def _since(start: datetime, at: datetime | None) -> float | None:
    return (at - start).total_seconds() if at is not None else None


def score(session: Session, *, incident_id: int, interval: timedelta | None) -> Score:
    """The drill's score from its facts; `interval` is its severity's update cadence."""
    incident = incidents.get(session, incident_id=incident_id)
    run = run_of(session, incident_id=incident_id)
    if run is None:
        raise NotFound(f"Incident #{incident.number} is not a drill.")
    start = incident.declared_at
    manager = session.exec(
        select(IncidentRole).where(
            IncidentRole.incident_id == incident_id,
            IncidentRole.role == Role.INCIDENT_MANAGER.value,
        )
    ).first()
    posted = list(
        session.exec(
            select(IncidentUpdate.posted_at)
            .where(IncidentUpdate.incident_id == incident_id)
            .order_by(col(IncidentUpdate.posted_at))
        ).all()
    )
    end_at = incident.resolved_at or run.ended_at or utcnow()
    marks = [start, *posted, end_at]
    gaps = [b - a for a, b in pairwise(marks)]
    on_time = sum(1 for gap in gaps if interval is None or gap <= interval)
    written = session.exec(
        select(func.count())
        .select_from(PostMortem)
        .where(PostMortem.incident_id == incident_id, col(PostMortem.edited_at).is_not(None))
    ).one()
    return Score(
        number=incident.number,
        title=incident.title,
        scenario=run.scenario,
        acknowledge=_since(start, incident.acknowledged_at),
        manager=_since(start, manager.assigned_at) if manager else None,
        first_update=_since(start, posted[0]) if posted else None,
        statuspage=_since(start, run.statuspage_at),
        updates=len(posted),
        on_cadence=on_time,
        gaps=len(gaps),
        interval=interval.total_seconds() if interval else None,
        postmortem=bool(written),
        duration=_since(start, incident.resolved_at),
    )
