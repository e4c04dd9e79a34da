"""The status page's HTTP side: a fast path for cached files and Starlette routes for the rest.

`StatusPageSite.middleware()` answers GET/HEAD of every cached file straight from memory
(ETag, Last-Modified, 304, gzip, CORS on the API) before Starlette routing; `routes()` serves
incident pages and the e-mail subscription pages. Nothing here writes without a form POST.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs

import anyio
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from bot.core.errors import DomainError
from bot.statuspage import components, subscriptions
from bot.statuspage.config import PageConfig
from storage import Database
from storage.types import utcnow
from web.statuspage.cache import Artefact, PageCache
from web.statuspage.render import Renderer

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

FORM_MAX = 16 * 1024
_PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, HEAD, OPTIONS"),
    (b"access-control-allow-headers", b"*"),
    (b"access-control-max-age", b"86400"),
    (b"content-length", b"0"),
]


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _not_modified(scope: Scope, artefact: Artefact) -> bool:
    tags = _header(scope, b"if-none-match")
    if tags is not None:
        wanted = [t.strip().removeprefix(b"W/") for t in tags.split(b",")]
        return artefact.etag in wanted or b"*" in wanted
    since = _header(scope, b"if-modified-since")
    if since is not None:
        try:
            return artefact.last_modified <= parsedate_to_datetime(since.decode("latin-1"))
        except (TypeError, ValueError):
            return False
    return False


async def send_artefact(scope: Scope, send: Send, artefact: Artefact) -> None:
    """Answer with `artefact`: 304 when the client has it, gzip when it takes it."""
    if _not_modified(scope, artefact):
        await send(
            {"type": "http.response.start", "status": 304, "headers": artefact.not_modified_headers}
        )
        await send({"type": "http.response.body", "body": b""})
        return
    encoding = _header(scope, b"accept-encoding") or b""
    zipped = b"gzip" in encoding
    headers = artefact.gzip_headers if zipped else artefact.headers
    body = b"" if scope["method"] == "HEAD" else (artefact.gzipped if zipped else artefact.body)
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class ArtefactResponse(Response):
    """A cached file as a Starlette response (ETag, 304, gzip as on the fast path)."""

    def __init__(self, artefact: Artefact) -> None:
        self.artefact = artefact
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_artefact(scope, send, self.artefact)


class FastPath:
    """Pure ASGI: cached files leave without touching routing, a thread or the database."""

    def __init__(self, app: ASGIApp, cache: PageCache) -> None:
        self.app = app
        self.cache = cache

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            if method in ("GET", "HEAD"):
                artefact = self.cache.artefacts.get(scope["path"])
                if artefact is not None:
                    await send_artefact(scope, send, artefact)
                    return
            elif method == "OPTIONS" and scope["path"].startswith("/api/v2/"):
                await send({"type": "http.response.start", "status": 204, "headers": _PREFLIGHT})
                await send({"type": "http.response.body", "body": b""})
                return
        await self.app(scope, receive, send)


class StatusPageSite:
    """Everything the web server needs for the status page."""

    def __init__(self, *, db: Database, config: PageConfig, refresh_seconds: float = 1.0) -> None:
        self.db = db
        self.config = config
        self.cache = PageCache(db, config, refresh_seconds=refresh_seconds)
        self._limiter = anyio.CapacityLimiter(8)

    def start(self) -> None:
        """Bring components in line with the file, render, start watching for changes."""
        with self.db.session() as session:
            components.sync(session, self.config)
        self.cache.start()

    def stop(self) -> None:
        """Stop the cache's thread."""
        self.cache.stop()

    def middleware(self) -> list[Middleware]:
        """The fast path, for Starlette(middleware=...)."""
        return [Middleware(FastPath, cache=self.cache)]

    def routes(self) -> list[BaseRoute]:
        """Incident pages and the subscription pages."""
        return [
            Route("/status/", self.redirect_home, methods=["GET", "HEAD"]),
            Route("/status/incidents/{public_id}", self.incident, methods=["GET", "HEAD"]),
            Route("/status/subscribe", self.subscribe, methods=["GET", "POST"]),
            Route("/status/subscribe/confirm", self.confirm, methods=["GET", "POST"]),
            Route("/status/unsubscribe", self.unsubscribe, methods=["GET", "POST"]),
        ]

    # -- helpers ---------------------------------------------------------------------------

    def _renderer(self) -> Renderer:
        assert self.cache.snapshot is not None
        return Renderer(self.cache.snapshot)

    def _page(self, html: str, status: int = 200) -> HTMLResponse:
        return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})

    async def _form(self, request: Request) -> dict[str, list[str]]:
        body = await request.body()
        if len(body) > FORM_MAX:
            return {}
        return parse_qs(body.decode("utf-8", "replace"), max_num_fields=200)

    async def _run(self, fn: Callable[[], Any]) -> Any:
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)

    # -- routes ----------------------------------------------------------------------------

    async def redirect_home(self, _request: Request) -> Response:
        """/status/ -> /status"""
        return RedirectResponse("/status", status_code=308)

    async def incident(self, request: Request) -> Response:
        """One incident's public history."""
        public_id = str(request.path_params["public_id"])
        artefact = await self._run(lambda: self.cache.incident(public_id))
        if artefact is None:
            html = self._renderer().message(
                "No such incident", "There is no incident at this address.", error=True
            )
            return self._page(html, 404)
        return ArtefactResponse(artefact)

    async def subscribe(self, request: Request) -> Response:
        """The subscription form, and its submission (a confirmation mail is queued)."""
        renderer = self._renderer()
        if request.method == "GET":
            return self._page(renderer.subscribe_form())
        form = await self._form(request)
        email = (form.get("email") or [""])[0]
        chosen = tuple(form.get("component") or [])

        def record() -> None:
            with self.db.session() as session:
                subscriptions.subscribe(
                    session,
                    config=self.config,
                    email=email,
                    component_ids=list(chosen),
                    now=utcnow(),
                )

        try:
            await self._run(record)
        except DomainError as exc:
            html = renderer.subscribe_form(text=str(exc), error=True, email=email, chosen=chosen)
            return self._page(html, 400)
        text = (
            f"Thanks. If {email.strip()} is not subscribed yet, a message with a confirmation "
            "link is on its way. Follow the link to start receiving updates."
        )
        return self._page(renderer.message("Check your inbox", text))

    async def _token_action(
        self,
        request: Request,
        *,
        action: Callable[..., Any],
        heading: str,
        button: str,
        path: str,
        done: str,
    ) -> Response:
        renderer = self._renderer()
        if request.method == "GET":
            token = request.query_params.get("token", "")

            def check() -> None:
                with self.db.read() as session:
                    subscriptions.lookup(session, token=token)

            try:
                await self._run(check)
            except DomainError as exc:
                return self._page(renderer.message(heading, str(exc), error=True), 404)
            html = renderer.message(heading, "", action=path, token=token, button=button)
            return self._page(html)
        form = await self._form(request)
        token = (form.get("token") or [request.query_params.get("token", "")])[0]

        def apply() -> Any:
            with self.db.session() as session:
                return action(session, token=token, now=utcnow())

        try:
            await self._run(apply)
        except DomainError as exc:
            return self._page(renderer.message(heading, str(exc), error=True), 404)
        return self._page(renderer.message(heading, done))

    async def confirm(self, request: Request) -> Response:
        """The double opt-in link: a page with a button (mail scanners do not press it)."""
        return await self._token_action(
            request,
            action=subscriptions.confirm,
            heading="Confirm your subscription",
            button="Confirm",
            path="/status/subscribe/confirm",
            done="You are subscribed. You will get an e-mail for every update on this page.",
        )

    async def unsubscribe(self, request: Request) -> Response:
        """The link in every mail (also RFC 8058 one-click: a POST with the token)."""
        return await self._token_action(
            request,
            action=subscriptions.unsubscribe,
            heading="Unsubscribe",
            button="Unsubscribe",
            path="/status/unsubscribe",
            done="You are unsubscribed; no more e-mail will be sent to you.",
        )
