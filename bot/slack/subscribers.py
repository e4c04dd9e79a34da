"""Who listens to the incident event bus. Each feature subscribes here, in order."""

from __future__ import annotations

from bot import reminders
from bot.reminders.policy import ReminderPolicy
from bot.slack.alert_triage import AlertTriage
from bot.slack.postmortems import PostmortemSlack
from bot.slack.services import Services
from bot.slack.surfaces import IncidentSlack
from bot.slack.timeline_capture import TimelineCapture


def install(services: Services) -> IncidentSlack:
    """Subscribe every feature to the event bus; returns the Slack surfaces manager."""
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
    services.alerts = AlertTriage(services, services.settings.alert_rules())
    services.events.subscribe("alerts", services.alerts.on_event)
    return surfaces
