"""Drills on Slack: the scenario's steps as they fall due, and the score when a drill ends.

The steps are a source of the delivery engine (`bot.drills.claims`): `DrillTicker` claims the
due ones on every replica's scheduler tick and posts each once, under its simulated speaker's
name and icon (`chat:write.customize`), with its key in the first block so that a step whose
post may have arrived before a crash is found in the channel instead of posted again.
`DrillScore.on_resolved` is an outbox subscriber (`bot.slack.subscribers`): when a drill is
resolved (or ended with `/incident drill end`) it posts the score in the drill's channel.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from slack_sdk import WebClient

from blocks import drills as render
from bot import drills
from bot.core.events import Delivery, IncidentResolved
from bot.core.vocabulary import Severity
from bot.drills.claims import DrillStepSource, Play, StepPolicy
from bot.reminders.policy import parse_intervals
from bot.slack.delivery import Message, Outcome, Runner, SlackPost, delivery_client
from bot.slack.keyed import post_once
from storage.models import Incident
from storage.types import utcnow

if TYPE_CHECKING:
    from bot.slack.services import Services

ROUNDS_MAX = 50  # claims per tick (a drill has at most bot.drills.scenario.STEPS_MAX steps)


def message(play: Play, now: datetime) -> Message:
    """A step, posted in the drill channel as its simulated speaker."""
    return Message(
        channel=play.channel_id,
        text=render.step_text(play),
        blocks=render.step_blocks(play),
        username=play.speaker,
        icon_emoji=play.icon,
    )


class StepRunner(Runner[Play]):
    """A runner of drill steps: a claim takes at most the next step of each drill (they play
    in order), so a tick claims again while steps go out, and steps due at the same time
    play one after another at once."""

    def drain(self) -> Counter[str]:
        """Play every step due now, in order, one claim after another while steps go out."""
        total: Counter[str] = Counter()
        for _ in range(ROUNDS_MAX):
            outcomes = super().drain()
            total.update(outcomes)
            if not (outcomes[Outcome.SENT] or outcomes[Outcome.FOUND]):
                break
        return total


class DrillTicker(StepRunner):
    """One replica's loop over due drill steps."""

    def __init__(
        self,
        services: Services,
        *,
        owner: str,
        clock: Callable[[], datetime] = utcnow,
        policy: StepPolicy | None = None,
    ) -> None:
        policy = policy or StepPolicy(
            lease=timedelta(seconds=services.settings.reminder_lease_seconds)
        )
        slack = delivery_client(services.slack, lease=policy.lease)
        send = SlackPost(slack, message, render.key_of, history_pages=2)
        super().__init__(services.db, DrillStepSource(policy), send, owner=owner, clock=clock)


class DrillScore:
    """Posts a drill's score in its channel when it is resolved."""

    def __init__(self, services: Services, *, slack: WebClient | None = None) -> None:
        self.services = services
        self.slack = slack or services.slack
        self.intervals = parse_intervals(services.settings.reminder_intervals)

    def on_resolved(self, event: IncidentResolved, delivery: Delivery) -> None:
        """The outbox subscriber: a drill's score, once (nothing for a real incident)."""
        with self.services.db.session() as session:
            incident = session.get(Incident, event.incident_id)
            if incident is None or not incident.is_drill or not incident.channel_id:
                return
            drills.stop_steps(session, incident_id=event.incident_id)  # resolved by hand
            interval = self.intervals.get(Severity(incident.severity))
            score = drills.score(session, incident_id=event.incident_id, interval=interval)
            channel = incident.channel_id
        post_once(
            self.slack,
            delivery,
            channel=channel,
            text=render.score_text(score),
            blocks=render.score_blocks(score),
        )
