"""Who listens to the incident event bus. Each feature subscribes here, in order."""

from __future__ import annotations

from bot.services import Services
from bot.surfaces import IncidentSlack


def install(services: Services) -> IncidentSlack:
    """Subscribe every feature to the event bus; returns the Slack surfaces manager."""
    surfaces = IncidentSlack(services)
    services.surfaces = surfaces
    services.events.subscribe("slack_surfaces", surfaces.on_event)
    return surfaces
