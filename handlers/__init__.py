"""Bolt listeners: ack, parse, call bot/, render with blocks/, send.

Each sub-package or module exposes `register(app)`; `register_all` wires them in order.
"""

from __future__ import annotations

from slack_bolt import App

from bot.slack.services import Services
from handlers import admin, commands, errors, events, incidents, postmortems, reminders, timeline
from handlers.context import inject_services


def register_all(app: App, services: Services) -> None:
    """Install the services middleware, the error handler and every listener."""
    app.use(inject_services(services))
    errors.register(app)
    commands.register(app)
    incidents.register(app)
    timeline.register(app)
    reminders.register(app)
    postmortems.register(app)
    events.register(app)
    admin.register(app)
