"""Bolt listeners: ack, parse, call bot/, render with blocks/, send.

Each sub-package or module exposes `register(app)`; `register_all` wires them in order.
"""

from __future__ import annotations

from typing import Any

from slack_bolt import App

from bot.slack.services import Services
from handlers import (
    admin,
    alerts,
    commands,
    drills,  # noqa: F401  # /incident drill
    errors,
    events,
    incidents,
    insights,  # noqa: F401  # /incident stats
    postmortems,
    reminders,
    social,
    stakeholders,
    statuspage,
    tags,  # noqa: F401  # /incident tag, /incident untag
    timeline,
)
from handlers.context import inject_services
from handlers.incidents.declare import resumes_after_writes
from handlers.scope import resolve_scope


def register_all(app: App, services: Services) -> None:
    """Install the middleware (services, then each request's scope), the error handler and
    every listener."""
    app.use(inject_services(services))
    app.use(resolve_scope)
    errors.register(app)
    # Events first: Bolt tries listeners in order, and an event (the busiest request: a
    # reaction storm) then meets its own listeners after a few matchers instead of fifty.
    events.register(app)
    commands.register(app)
    incidents.register(app)
    timeline.register(app)
    reminders.register(app)
    postmortems.register(app)
    stakeholders.register(app)
    statuspage.register(app)
    admin.register(app)
    alerts.register(app)
    social.register(app)


def resumable(body: dict[str, Any]) -> bool:
    """True for a request whose listener can resume what followed its committed writes.

    The inbox (web/intake.py) runs such a request again after a crash although its writes
    were committed; any other request whose writes were committed is not run again.
    """
    return resumes_after_writes(body)
