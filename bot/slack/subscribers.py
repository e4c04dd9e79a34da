"""Who listens to the incident event bus. Each feature subscribes here, in order."""

from __future__ import annotations

from bot import reminders
from bot.reminders.policy import ReminderPolicy
from bot.slack.postmortems import PostmortemSlack
from bot.slack.services import Services
from bot.slack.surfaces import IncidentSlack
from bot.slack.timeline_capture import TimelineCapture
from bot.stakeholders.planning import NoticePolicy, recorder


def install(services: Services) -> IncidentSlack:
    """Subscribe every feature to the event bus; returns the Slack surfaces manager."""
    # Stakeholder notices are planned inside each change's own transaction.
    services.recorders.append(recorder(NoticePolicy.from_settings(services.settings)))
    surfaces = IncidentSlack(services)
    services.surfaces = surfaces
    services.events.subscribe("slack_surfaces", surfaces.on_event)
    services.timeline = TimelineCapture(services)
    services.events.subscribe("timeline", services.timeline.on_event)
    services.events.subscribe(
        "reminders",
        reminders.subscriber(services.db, ReminderPolicy.from_settings(services.settings)),
    )
    services.events.subscribe("postmortems", PostmortemSlack(services).on_event)
    return surfaces
