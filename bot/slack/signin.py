"""Sign in with Slack (OpenID Connect) for the console: the Slack side of the flow.

The browser goes to Slack's authorize page (`authorize_url`, made by slack_sdk's
`OpenIDConnectAuthorizeUrlGenerator`, with a fresh `state` and `nonce`); Slack sends it back
with a code, which `exchange` trades with `openid.connect.token` for an access token and an
ID token, then asks `openid.connect.userInfo` who it is. The ID token comes straight from
Slack's token endpoint over TLS, which OpenID Connect Core (3.1.3.7, step 6) accepts in place
of checking its signature; its claims are checked: issuer, audience, expiry and the nonce of
this browser's sign-in. Only a member of the bot's own workspace (`auth.test`'s team) who is
not a guest, a bot or deactivated gets in.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.oauth import OpenIDConnectAuthorizeUrlGenerator

from bot.slack.directory import SlackDirectory

log = logging.getLogger(__name__)

SCOPES = ("openid", "profile", "email")
CLOCK_SKEW = 120  # seconds of clock difference tolerated on the ID token's times
TEAM_CLAIM = "https://slack.com/team_id"


class SignInRefused(Exception):
    """The sign-in cannot go on; the message says why, in words for the person."""


@dataclass(frozen=True)
class Identity:
    """Who signed in."""

    user_id: str
    team_id: str
    name: str
    email: str = ""


def decode_id_token(id_token: str) -> dict[str, Any]:
    """The claims of a JWT (header.payload.signature), without checking its signature."""
    parts = id_token.split(".")
    if len(parts) != 3:
        raise SignInRefused("Slack's answer was not understood (no ID token).")
    payload = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        claims = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, binascii.Error):
        raise SignInRefused("Slack's answer was not understood (bad ID token).") from None
    if not isinstance(claims, dict):
        raise SignInRefused("Slack's answer was not understood (bad ID token).")
    return claims


class SlackSignIn:
    """Authorize URLs and code exchange for one Slack app's OpenID Connect client."""

    def __init__(
        self,
        *,
        client_id: str,
        client_secret: str,
        api_url: str,
        directory: SlackDirectory,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.api_url = api_url
        self.directory = directory
        parts = urlsplit(api_url)
        root = f"{parts.scheme}://{parts.netloc}"
        self.issuer = root  # https://slack.com for https://slack.com/api/
        self.authorization_url = root + "/openid/connect/authorize"

    def authorize_url(self, *, redirect_uri: str, state: str, nonce: str) -> str:
        """Where to send the browser: Slack's consent page for our workspace."""
        generator = OpenIDConnectAuthorizeUrlGenerator(
            client_id=quote(self.client_id, safe=""),
            redirect_uri=quote(redirect_uri, safe=""),
            scopes=list(SCOPES),
            authorization_url=self.authorization_url,
        )
        return generator.generate(
            state=quote(state, safe=""),
            nonce=quote(nonce, safe=""),
            team=quote(self.directory.team_id(), safe=""),
        )

    def exchange(self, *, code: str, redirect_uri: str, nonce: str) -> Identity:
        """Trade the code for the person's identity, or SignInRefused saying why."""
        slack = WebClient(base_url=self.api_url, timeout=15)
        try:
            answer = slack.openid_connect_token(
                client_id=self.client_id,
                client_secret=self.client_secret,
                code=code,
                redirect_uri=redirect_uri,
            )
        except SlackApiError as exc:
            error = exc.response.get("error")
            log.warning("sign-in: openid.connect.token refused: %s", error)
            raise SignInRefused(
                "Slack did not accept this sign-in (it may have expired); try again."
            ) from None
        claims = decode_id_token(str(answer.get("id_token") or ""))
        self._check_claims(claims, nonce)
        try:
            info = WebClient(
                base_url=self.api_url, token=str(answer["access_token"]), timeout=15
            ).openid_connect_userInfo()
        except SlackApiError as exc:
            log.warning("sign-in: openid.connect.userInfo refused: %s", exc.response.get("error"))
            raise SignInRefused("Slack would not say who you are; try again.") from None
        if info.get("sub") != claims.get("sub") or info.get(TEAM_CLAIM) != claims.get(TEAM_CLAIM):
            raise SignInRefused("Slack's answers about who you are disagree; try again.")
        identity = Identity(
            user_id=str(info.get("https://slack.com/user_id") or info.get("sub") or ""),
            team_id=str(info.get(TEAM_CLAIM) or ""),
            name=str(info.get("name") or ""),
            email=str(info.get("email") or ""),
        )
        self._check_member(identity)
        return identity

    def _check_claims(self, claims: dict[str, Any], nonce: str) -> None:
        now = time.time()
        if claims.get("iss") != self.issuer:
            raise SignInRefused("This sign-in was not issued by our Slack.")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.client_id not in audiences:
            raise SignInRefused("This sign-in was meant for another app.")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] < now - CLOCK_SKEW:
            raise SignInRefused("This sign-in has expired; try again.")
        if not nonce or claims.get("nonce") != nonce:
            raise SignInRefused("This sign-in was not started in this browser; try again.")

    def _check_member(self, identity: Identity) -> None:
        if identity.team_id != self.directory.team_id():
            raise SignInRefused("Only members of our Slack workspace can use the console.")
        user = self.directory.user(identity.user_id)
        if user is None or user.get("deleted") or user.get("is_bot"):
            raise SignInRefused("Only members of our Slack workspace can use the console.")
        if user.get("is_restricted") or user.get("is_ultra_restricted"):
            raise SignInRefused("Guests of our Slack workspace cannot use the console.")
