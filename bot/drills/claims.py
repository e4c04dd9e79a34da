"""A drill's scripted steps as a source of the delivery engine (`bot.core.delivery`).

The `drill_step` table is the source: each row is due at the drill's start plus its offset.
A leased row is checked against its drill (ended or resolved: it does not play; no channel
yet: `NotReady`, tried again after the back-off), its key names the step (`drill-<incident>-
<position>`, so a message that went out before a crash is found in the channel and not posted
again), and a played step keeps `played_at` and its message: it is never due again. Steps
play in the script's order (`ready`: an earlier step still to play holds the later ones back,
and none plays before the drill's channel exists). Slack is called by `bot.slack.drills`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, exists
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from bot.core.delivery import Attempt, NotReady, Receipt, Source
from bot.core.vocabulary import Status
from bot.drills.scenario import Kind
from storage.models import Incident
from storage.models_drills import DrillStep

DEFAULT_LEASE = timedelta(seconds=60)


@dataclass(frozen=True)
class StepPolicy:
    """What the source is configured with."""

    lease: timedelta = DEFAULT_LEASE


@dataclass(frozen=True)
class Play:
    """One step to play in a drill channel, decided inside the database."""

    step_id: int
    key: str
    incident_id: int
    number: int
    channel_id: str
    kind: Kind
    speaker: str
    icon: str
    subject: str
    text: str


def step_key(incident_id: int, position: int) -> str:
    """The unique key of a step's message."""
    return f"drill-{incident_id}-{position}"


class DrillStepSource(Source[DrillStep, Play, StepPolicy]):
    """The `drill_step` table: one row per scripted event of a drill."""

    name = "drill step"
    model = DrillStep

    def ready(self, now: datetime) -> Any:
        """Steps play in the script's order: no earlier step of the drill is still to play,
        and the drill's channel exists."""
        row, earlier = DrillStep, aliased(DrillStep)
        blocking = exists().where(
            col(earlier.incident_id) == col(row.incident_id),
            col(earlier.position) < col(row.position),
            col(earlier.played_at).is_(None),
            col(earlier.due_at).is_not(None),
        )
        channel = exists().where(
            col(Incident.id) == col(row.incident_id), col(Incident.channel_id).is_not(None)
        )
        return and_(~blocking, channel)

    def new_key(self, row: DrillStep, now: datetime) -> str:
        """The step itself: played once, whoever plays it."""
        return step_key(row.incident_id, row.position)

    def load(
        self, session: Session, row: DrillStep, attempt: Attempt, now: datetime
    ) -> Play | None:
        """The step to play, unless it was played or its drill is over."""
        incident = session.get(Incident, row.incident_id)
        if row.played_at is not None or incident is None or not incident.is_drill:
            row.due_at = None
            return None
        if incident.status == Status.RESOLVED.value:
            row.due_at = None  # the drill ended before this step's time
            return None
        if not incident.channel_id:
            raise NotReady("the drill's channel does not exist yet")
        assert row.id is not None
        return Play(
            step_id=row.id,
            key=attempt.key,
            incident_id=row.incident_id,
            number=incident.number,
            channel_id=incident.channel_id,
            kind=Kind(row.kind),
            speaker=row.speaker,
            icon=row.icon,
            subject=row.subject,
            text=row.text,
        )

    def record(self, session: Session, item: Play, receipt: Receipt, *, owner: str) -> None:
        """Mark the step played (once: a second delivery of the same key changes nothing)."""
        row = session.get(DrillStep, item.step_id)
        if row is not None and row.played_at is None:
            row.played_at, row.message_ts = receipt.sent_at, receipt.reference
            session.add(row)

    def plan_next(
        self, session: Session, row: DrillStep, item: Play, receipt: Receipt, now: datetime
    ) -> None:
        """A step plays once: nothing more is due."""
        row.due_at = None
