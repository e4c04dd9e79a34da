"""Sign in with Slack (OpenID Connect), as Slack serves it.

- ``GET /openid/connect/authorize``: checks ``response_type=code``, the ``openid`` scope, the
  client and its redirect URI (an error page otherwise, as Slack shows), then a consent page
  with one "Continue as ..." form per person (the person at the browser picks who they are);
- ``POST /openid/connect/authorize/approve``: redirects to ``redirect_uri?code=...&state=...``
  (``cancel``: ``?error=access_denied&state=...``);
- ``GET /openid/connect/keys``: the JWKS whose key signs the ID tokens (RS256);
- ``openid.connect.token`` (client id and secret by HTTP Basic auth or form fields) answers
  ``access_token`` (``xoxp-``), ``token_type`` and a signed ``id_token`` carrying the nonce;
  codes are single use and live 10 minutes;
- ``openid.connect.userInfo`` (Bearer: that access token) answers the person's claims.

Register the app's client with :meth:`OidcProvider.register_client`. A person of another
workspace: ``set_user_team(user_id, "T0OTHER")``.
"""

from __future__ import annotations

import base64
import html
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from .errors import SlackError
from .transport import HttpRequest, HttpResponse

if TYPE_CHECKING:
    from .server import SlackEmulator

CODE_TTL = 600.0
TOKEN_TTL = 300  # the ID token's lifetime (exp - iat), seconds


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _uint(n: int) -> str:
    return _b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass
class Client:
    client_id: str
    secret: str
    redirect_uris: list[str]


@dataclass
class Grant:
    code: str
    client_id: str
    user: str
    redirect_uri: str
    nonce: str | None
    issued: float
    used: bool = False


@dataclass
class OidcProvider:
    """Clients, codes, access tokens and the signing key of the emulated workspace."""

    clients: dict[str, Client] = field(default_factory=dict)
    grants: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> user id
    user_teams: dict[str, str] = field(default_factory=dict)  # people of other workspaces
    lock: threading.RLock = field(default_factory=threading.RLock)
    _key: Any = None
    kid: str = field(default_factory=lambda: secrets.token_hex(8))

    def register_client(self, client_id: str, secret: str, redirect_uris: list[str]) -> None:
        """Make `client_id` a Sign in with Slack client with these redirect URIs."""
        with self.lock:
            self.clients[client_id] = Client(client_id, secret, list(redirect_uris))

    def set_user_team(self, user_id: str, team_id: str) -> None:
        """Say that `user_id` signs in from another workspace, `team_id`."""
        with self.lock:
            self.user_teams[user_id] = team_id

    def clear(self) -> None:
        with self.lock:
            self.clients.clear()
            self.grants.clear()
            self.tokens.clear()
            self.user_teams.clear()

    # -- keys and tokens ---------------------------------------------------------------------

    def key(self) -> Any:
        from cryptography.hazmat.primitives.asymmetric import rsa

        with self.lock:
            if self._key is None:
                self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            return self._key

    def jwks(self) -> dict[str, Any]:
        numbers = self.key().public_key().public_numbers()
        jwk = {
            "kty": "RSA",
            "alg": "RS256",
            "use": "sig",
            "kid": self.kid,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
        }
        return {"keys": [jwk]}

    def sign(self, claims: dict[str, Any]) -> str:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        head = _b64url(json.dumps(header, separators=(",", ":")).encode())
        body = _b64url(json.dumps(claims, separators=(",", ":")).encode())
        signature = self.key().sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{head}.{body}.{_b64url(signature)}"


def _claims(emu: SlackEmulator, user_id: str) -> dict[str, Any]:
    ws = emu.ws
    user = ws.users[user_id]
    profile = user.get("profile") or {}
    team = emu.oidc.user_teams.get(user_id, ws.team_id)
    claims: dict[str, Any] = {
        "sub": user_id,
        "https://slack.com/user_id": user_id,
        "https://slack.com/team_id": team,
        "email_verified": bool(profile.get("email")),
        "date_email_verified": int(ws.now()) - 86400,
        "name": profile.get("real_name") or user.get("name"),
        "picture": profile.get("image_512", ""),
        "given_name": profile.get("first_name", ""),
        "family_name": profile.get("last_name", ""),
        "locale": "en-US",
        "https://slack.com/team_name": ws.team_name,
        "https://slack.com/team_domain": ws.team_domain,
    }
    if profile.get("email"):
        claims["email"] = profile["email"]
    return claims


# -- the browser's side: authorize page, consent, redirect ------------------------------------


def _error_page(status: int, code: str, detail: str) -> HttpResponse:
    body = (
        "<!doctype html><title>Slack: something went wrong</title>"
        f"<h1>Something went wrong</h1><p><code>{html.escape(code)}</code>: "
        f"{html.escape(detail)}</p>"
    )
    return HttpResponse.text(status, body, "text/html")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _check_request(emu: SlackEmulator, q: dict[str, str]) -> HttpResponse | None:
    client = emu.oidc.clients.get(q.get("client_id", ""))
    if client is None:
        return _error_page(400, "invalid_client_id", "This app is not known.")
    redirect_uri = q.get("redirect_uri") or client.redirect_uris[0]
    if redirect_uri not in client.redirect_uris:
        return _error_page(400, "bad_redirect_uri", "The redirect_uri does not match the app's.")
    if q.get("response_type") != "code":
        return _error_page(400, "invalid_response_type", "response_type must be code.")
    scopes = set(q.get("scope", "").replace(",", " ").split())
    if "openid" not in scopes:
        return _error_page(400, "invalid_scope", "Sign in with Slack needs the openid scope.")
    if q.get("team") and q["team"] != emu.ws.team_id:
        return _error_page(400, "invalid_team", "This app cannot be used in that workspace.")
    return None


def _consent(emu: SlackEmulator, q: dict[str, str]) -> HttpResponse:
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in q.items()
    )
    with emu.ws.lock:
        people = [
            u
            for u in emu.ws.users.values()
            if not u.get("is_bot") and u["id"] != "USLACKBOT" and not u.get("deleted")
        ]
    forms = "".join(
        '<form method="post" action="/openid/connect/authorize/approve">'
        f'{hidden}<input type="hidden" name="user" value="{html.escape(u["id"])}">'
        f'<button type="submit">Continue as {html.escape(u["real_name"])}</button></form>'
        for u in people
    )
    cancel = (
        '<form method="post" action="/openid/connect/authorize/approve">'
        f'{hidden}<input type="hidden" name="cancel" value="1">'
        '<button type="submit">Cancel</button></form>'
    )
    body = (
        "<!doctype html><title>Sign in to Slack</title>"
        f"<h1>Sign in to {html.escape(emu.ws.team_name)}</h1>{forms}{cancel}"
    )
    return HttpResponse.text(200, body, "text/html")


def _approve(emu: SlackEmulator, form: dict[str, str]) -> HttpResponse:
    problem = _check_request(emu, form)
    if problem is not None:
        return problem
    client = emu.oidc.clients[form["client_id"]]
    redirect_uri = form.get("redirect_uri") or client.redirect_uris[0]
    state = {"state": form["state"]} if form.get("state") else {}
    if form.get("cancel"):
        location = _with_query(redirect_uri, {"error": "access_denied", **state})
        return HttpResponse(302, b"", {"Location": location})
    user = form.get("user", "")
    if user not in emu.ws.users:
        return _error_page(400, "user_not_found", "No such person.")
    code = f"{int(time.time())}.{secrets.token_hex(20)}"
    with emu.oidc.lock:
        emu.oidc.grants[code] = Grant(
            code=code,
            client_id=client.client_id,
            user=user,
            redirect_uri=form.get("redirect_uri", ""),
            nonce=form.get("nonce") or None,
            issued=time.time(),
        )
    location = _with_query(redirect_uri, {"code": code, **state})
    return HttpResponse(302, b"", {"Location": location})


def handle_http(emu: SlackEmulator, req: HttpRequest, rest: str) -> HttpResponse:
    """The browser-facing pages under /openid/connect/."""
    if rest == "keys":
        return HttpResponse.json(200, emu.oidc.jwks())
    if rest == "authorize" and req.method == "GET":
        q = dict(parse_qsl(req.query, keep_blank_values=True))
        return _check_request(emu, q) or _consent(emu, q)
    if rest == "authorize/approve" and req.method == "POST":
        form = dict(parse_qsl(req.body.decode("utf-8", "replace"), keep_blank_values=True))
        return _approve(emu, form)
    return HttpResponse.text(404, "not found")


# -- the Web API methods -----------------------------------------------------------------------


def _basic(header: str | None) -> tuple[str, str] | None:
    if not header or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip()).decode()
    except ValueError:
        return None
    client_id, _, secret = decoded.partition(":")
    return client_id, secret


def token(emu: SlackEmulator, params: dict[str, Any], authorization: str | None) -> dict[str, Any]:
    """``openid.connect.token``: a code (and the client's credentials) for tokens."""
    basic = _basic(authorization)
    client_id, secret = basic or (
        str(params.get("client_id") or ""),
        str(params.get("client_secret") or ""),
    )
    oidc = emu.oidc
    with oidc.lock:
        client = oidc.clients.get(client_id)
        if client is None:
            raise SlackError("invalid_client_id")
        if not secrets.compare_digest(client.secret, secret):
            raise SlackError("bad_client_secret")
        grant_type = str(params.get("grant_type") or "authorization_code")
        if grant_type != "authorization_code":
            raise SlackError("invalid_grant_type")
        grant = oidc.grants.get(str(params.get("code") or ""))
        if grant is None or grant.used or grant.client_id != client_id:
            raise SlackError("invalid_code")
        if time.time() - grant.issued > CODE_TTL:
            raise SlackError("invalid_code")
        if grant.redirect_uri and grant.redirect_uri != str(params.get("redirect_uri") or ""):
            raise SlackError("bad_redirect_uri")
        grant.used = True
        access_token = f"xoxp-{secrets.token_hex(24)}"
        oidc.tokens[access_token] = grant.user
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": emu.url,
        "aud": client_id,
        "exp": now + TOKEN_TTL,
        "iat": now,
        "auth_time": now,
        **_claims(emu, grant.user),
    }
    if grant.nonce is not None:
        claims["nonce"] = grant.nonce
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "id_token": oidc.sign(claims),
    }


def user_info(emu: SlackEmulator, access_token: str | None) -> dict[str, Any]:
    """``openid.connect.userInfo`` with the person's access token."""
    if not access_token:
        raise SlackError("not_authed")
    with emu.oidc.lock:
        user = emu.oidc.tokens.get(access_token)
    if user is None:
        raise SlackError("invalid_auth")
    return _claims(emu, user)
