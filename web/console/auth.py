"""Sign in with Slack for the console: the routes, and `signed_in` for every other page.

GET  /console/login?next=...    a fresh state and nonce (kept in a signed cookie), then off
                                to Slack's consent page
GET  /console/auth/callback     back from Slack: the state must match this browser's, the ID
                                token must carry its nonce; then the session cookie
POST /console/logout            the session cookie is cleared
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.slack.services import Services
from bot.slack.signin import SignInRefused, SlackSignIn
from web.console.render import SECURITY_HEADERS, page
from web.console.session import Cookies, SignInState, Viewer

log = logging.getLogger(__name__)

HOME = "/console/incidents"
CALLBACK = "/console/auth/callback"
Page = Callable[[Request, Viewer], Response]


def safe_next(value: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    unsafe = ("//", "\\", "\n", "\r")
    if value and value.startswith("/console") and not any(bad in value for bad in unsafe):
        return value
    return HOME


def redirect(url: str) -> RedirectResponse:
    """A 303 See Other (a GET follows, even after a POST)."""
    return RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS)


@dataclass
class Auth:
    """The sign-in flow and the session check."""

    services: Services
    cookies: Cookies
    signin: SlackSignIn

    @classmethod
    def build(cls, services: Services) -> Auth:
        """From the settings (SLACK_CLIENT_ID, SLACK_CLIENT_SECRET, CONSOLE_SESSION_SECRET)."""
        settings = services.settings
        return cls(
            services=services,
            cookies=Cookies(
                settings.console_session_secret, session_hours=settings.console_session_hours
            ),
            signin=SlackSignIn(
                client_id=settings.slack_client_id,
                client_secret=settings.slack_client_secret,
                api_url=settings.slack_api_url,
                directory=services.directory,
            ),
        )

    def redirect_uri(self, request: Request) -> str:
        """The callback URL registered with Slack: CONSOLE_BASE_URL's, else this request's."""
        base = self.services.settings.console_base_url
        if not base:
            base = f"{request.url.scheme}://{request.url.netloc}"
        return base + CALLBACK

    def signed_in(self, view: Page) -> Callable[[Request], Response]:
        """`view` for a signed-in person; everyone else is sent to sign in first."""

        def endpoint(request: Request) -> Response:
            viewer = self.cookies.viewer(request)
            if viewer is None:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                return redirect("/console/login?next=" + quote(target, safe=""))
            return view(request, viewer)

        endpoint.__name__ = view.__name__
        return endpoint

    # -- routes --------------------------------------------------------------------------------

    def login(self, request: Request) -> Response:
        """Start a sign-in: remember a fresh state and nonce, then go to Slack."""
        state = SignInState(
            state=secrets.token_urlsafe(32),
            nonce=secrets.token_urlsafe(32),
            next=safe_next(request.query_params.get("next")),
        )
        try:
            url = self.signin.authorize_url(
                redirect_uri=self.redirect_uri(request), state=state.state, nonce=state.nonce
            )
        except Exception:
            log.exception("sign-in: cannot reach Slack")
            return self._refused("Slack cannot be reached right now; try again in a minute.", 503)
        response = redirect(url)
        self.cookies.remember_signin(response, state)
        return response

    def callback(self, request: Request) -> Response:
        """Back from Slack: check the state and the nonce, then open the session."""
        params = request.query_params
        expected = self.cookies.signin_state(request)
        state = params.get("state", "")
        if expected is None or not secrets.compare_digest(expected.state, state):
            log.warning("sign-in refused: the state does not match this browser's")
            return self._refused(
                "This sign-in was not started in this browser, or took too long. Sign in again."
            )
        if params.get("error"):
            return self._refused("Sign-in was cancelled in Slack.", clear=True)
        code = params.get("code", "")
        if not code:
            return self._refused("Slack sent no sign-in code; sign in again.", clear=True)
        try:
            identity = self.signin.exchange(
                code=code, redirect_uri=self.redirect_uri(request), nonce=expected.nonce
            )
        except SignInRefused as exc:
            log.warning("sign-in refused: %s", exc)
            return self._refused(str(exc), clear=True)
        response = redirect(expected.next)
        self.cookies.forget_signin(response)
        self.cookies.start_session(
            response,
            Viewer(user_id=identity.user_id, team_id=identity.team_id, name=identity.name),
        )
        log.info("console: %s signed in", identity.user_id)
        return response

    def logout(self, request: Request) -> Response:
        """Sign out."""
        response = page("signed_out.html", viewer=None)
        self.cookies.end_session(response)
        return response

    def _refused(self, reason: str, status: int = 400, *, clear: bool = False) -> Response:
        response = page("refused.html", status_code=status, viewer=None, reason=reason)
        if clear:
            self.cookies.forget_signin(response)
        return response

    def routes(self) -> list[Route]:
        """The sign-in routes."""
        return [
            Route("/login", self.login, methods=["GET"]),
            Route("/auth/callback", self.callback, methods=["GET"]),
            Route("/logout", self.logout, methods=["POST"]),
        ]
