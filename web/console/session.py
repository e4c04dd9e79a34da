"""The console's cookies: the signed session, and the signed state of a sign-in under way.

Both are signed with CONSOLE_SESSION_SECRET (itsdangerous, HMAC-SHA1 over a timestamped
payload), HttpOnly, Secure and SameSite=Lax (the sign-in comes back from Slack as a top-level
navigation, which Lax lets through and cross-site posts do not), scoped to /console.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

SESSION_COOKIE = "incident_console"
SIGNIN_COOKIE = "incident_console_signin"
SIGNIN_MAX_AGE = 600  # seconds a person has to come back from Slack's consent page
COOKIE_PATH = "/console"


@dataclass(frozen=True)
class Viewer:
    """The signed-in person."""

    user_id: str
    team_id: str
    name: str


@dataclass(frozen=True)
class SignInState:
    """What the browser must bring back from Slack: the state, and the nonce to expect."""

    state: str
    nonce: str
    next: str


class Cookies:
    """Signs, reads and sets the console's two cookies."""

    def __init__(self, secret: str, *, session_hours: int) -> None:
        self.max_age = session_hours * 3600
        self._session = URLSafeTimedSerializer(secret, salt="incident-console-session")
        self._signin = URLSafeTimedSerializer(secret, salt="incident-console-signin")

    def _set(self, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path=COOKIE_PATH,
            secure=True,
            httponly=True,
            samesite="lax",
        )

    def viewer(self, request: Request) -> Viewer | None:
        """The signed-in person, or None (no cookie, a bad signature, or expired)."""
        data = self._load(self._session, request.cookies.get(SESSION_COOKIE), self.max_age)
        if data is None:
            return None
        try:
            return Viewer(user_id=str(data["u"]), team_id=str(data["t"]), name=str(data["n"]))
        except KeyError:
            return None

    def start_session(self, response: Response, viewer: Viewer) -> None:
        """Sign `viewer` in on this browser."""
        value = self._session.dumps({"u": viewer.user_id, "t": viewer.team_id, "n": viewer.name})
        self._set(response, SESSION_COOKIE, value, self.max_age)

    def end_session(self, response: Response) -> None:
        """Sign out: the browser forgets the session cookie."""
        self._set(response, SESSION_COOKIE, "", 0)

    def signin_state(self, request: Request) -> SignInState | None:
        """The sign-in this browser started, if it is still fresh."""
        data = self._load(self._signin, request.cookies.get(SIGNIN_COOKIE), SIGNIN_MAX_AGE)
        if data is None:
            return None
        try:
            return SignInState(state=str(data["s"]), nonce=str(data["n"]), next=str(data["x"]))
        except KeyError:
            return None

    def remember_signin(self, response: Response, state: SignInState) -> None:
        """Keep the state and nonce of a sign-in in this browser until Slack sends it back."""
        value = self._signin.dumps({"s": state.state, "n": state.nonce, "x": state.next})
        self._set(response, SIGNIN_COOKIE, value, SIGNIN_MAX_AGE)

    def forget_signin(self, response: Response) -> None:
        """A sign-in state is used once."""
        self._set(response, SIGNIN_COOKIE, "", 0)

    @staticmethod
    def _load(serializer: URLSafeTimedSerializer, value: str | None, max_age: int) -> Any:
        if not value:
            return None
        try:
            data = serializer.loads(value, max_age=max_age)
        except BadSignature:  # also SignatureExpired
            return None
        return data if isinstance(data, dict) else None
