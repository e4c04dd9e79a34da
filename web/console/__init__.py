"""The internal console (/console): the incident library and insights, behind Sign in with Slack.

`console_routes(services)` gives the routes web.server mounts when SLACK_CLIENT_ID is set.
Every page but the sign-in ones needs a session (web.console.auth); pages are rendered on the
server (Jinja2, autoescaped) and work without JavaScript; the insights charts use Chart.js,
served from static/ (no network at run time).
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount
from starlette.staticfiles import StaticFiles

from bot.slack.services import Services
from web.console.auth import Auth
from web.console.insights import Insights
from web.console.pages import Pages

STATIC = Path(__file__).parent / "static"


def console_routes(services: Services) -> list[BaseRoute]:
    """The console under /console, for a bot whose settings enable it."""
    auth = Auth.build(services)
    pages = Pages(services, auth)
    routes: list[BaseRoute] = [
        *auth.routes(),
        *pages.routes(),
        *Insights(pages, auth).routes(),
        Mount("/static", app=StaticFiles(directory=STATIC), name="console-static"),
    ]
    return [Mount("/console", app=Starlette(routes=routes))]
