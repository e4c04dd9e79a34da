"""Starlette application served by uvicorn.

Bolt's own Starlette adapter awaits `app.dispatch` on the event loop thread, so one slow
listener would hold every other request. Here dispatch runs in a worker thread: the sync
Bolt App acknowledges as soon as a listener calls ack(), and the listener's remaining work
goes on in Bolt's listener executor, a `ListenerPool` that puts acknowledgements first.
Requests are checked (web/slack_request.py) and kept in the inbox (web/intake.py) before
they are answered; uvicorn runs with deadlines for headers and bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import anyio
import uvicorn
from slack_bolt import Ack, App, BoltContext, BoltResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from bot.core import inbox
from bot.slack.identity import Identity
from storage import Database
from storage.answering import ANSWERING
from storage.db import URGENT
from web.intake import Intake
from web.intake_work import current_work
from web.slack_endpoint import PATH as SLACK_PATH
from web.slack_endpoint import SlackEndpoint, SlackFirst
from web.statuspage.site import StatusPageSite

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
P = ParamSpec("P")
T = TypeVar("T")


class ListenerPool(ThreadPoolExecutor):
    """Bolt's listener executor, with acknowledgements first.

    A listener runs here until it calls ack(); the work it does after that (Slack calls,
    database writes, the event bus) waits for one of `background` slots. However much work
    earlier requests left behind, a new request finds a thread at once (threads are added
    while none is idle, up to `max_workers`) and shares the CPU with at most `background`
    threads of unfinished work: a queue of slow work never delays the next acknowledgement.
    """

    def __init__(self, *, max_workers: int, background: int) -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix="listener")
        self._slots = threading.BoundedSemaphore(background)
        self._local = threading.local()
        self._deferred = ThreadPoolExecutor(max_workers=background, thread_name_prefix="deferred")

    def defer(self, work: Callable[[], Any]) -> None:
        """Run `work` when a background slot is free, on a thread of its own (FIFO).

        A listener that defers its work after acknowledging frees its thread and its request
        (the parsed payload) at once, where one that goes on inline keeps both until a slot
        is free: under a backlog, deferred work costs a queued function, not a parked thread.
        The work runs in the listener's context (its inbox row is done only after it).
        """
        context = contextvars.copy_context()
        tracked = current_work()
        if tracked is not None:
            tracked.begin()

        def run() -> None:
            try:
                ANSWERING.give_way()
                with self._slots:
                    context.run(work)
            except Exception:
                log.exception("deferred listener work failed")
            finally:
                if tracked is not None:
                    tracked.end()

        self._deferred.submit(run)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking listeners, then finish the work they deferred."""
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        self._deferred.shutdown(wait=wait, cancel_futures=cancel_futures)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        local = self._local
        context = contextvars.copy_context()  # the dispatching request's (its inbox row)
        tracked = current_work()
        if tracked is not None:
            tracked.begin()

        def run() -> T:
            local.listening, local.slot = True, False
            try:
                return context.run(fn, *args, **kwargs)
            finally:
                local.listening = False
                if local.slot:
                    local.slot = False
                    self._slots.release()
                if tracked is not None:
                    tracked.end()

        return super().submit(run)

    def acknowledged(self) -> None:
        """In a listener that has just acknowledged: wait for a slot for the rest of its work."""
        local = self._local
        if getattr(local, "listening", False) and not local.slot:
            ANSWERING.give_way()
            self._slots.acquire()
            local.slot = True


class _PoolAck(Ack):
    """ack() that hands the rest of the listener to the pool's background slots.

    Bolt's runner waits for a listener's answer by reading `response` every 10 ms on the
    thread that dispatched the request (slack_bolt/listener/thread_runner.py). Here that read
    waits for the answer itself (up to ANSWER_WAIT), so the answer leaves the moment ack()
    is called instead of 0-10 ms later; reads on any other thread never wait.
    """

    ANSWER_WAIT = 0.25  # seconds one read may wait; Bolt's loop checks its 3 s limit between

    def __init__(self, pool: ListenerPool) -> None:
        self._answered = threading.Event()
        self._waiter = (
            threading.get_ident()
        )  # the dispatching thread (Bolt's middleware runs there)
        super().__init__()
        self._pool = pool

    @property
    def response(self) -> BoltResponse | None:
        answer = self._answer
        if answer is None and threading.get_ident() == self._waiter:
            self._answered.wait(self.ANSWER_WAIT)
            answer = self._answer
        return answer

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        self._answer = value
        if value is not None:
            self._answered.set()

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        _keep()
        response = super().__call__(*args, **kwargs)
        URGENT.set(False)  # answered: the rest of the work is background work
        work = current_work()
        if work is None or not work.answered:  # (answered already: its listener goes on at
            self._pool.acknowledged()  # once, so a form it opens meets Slack's 3 s)
        return response

    def then(self, work: Callable[[], Any]) -> BoltResponse:
        """Acknowledge, and leave `work` to the pool's background slots (see ListenerPool.defer),
        or, when a processing worker is ready (web/handoff.py), the whole request to it: kept
        leased to the worker, it runs the listener again there, then `work`."""
        request = current_work()
        handoff = request.intake.handoff if request is not None else None
        if request is None or handoff is None or not handoff.alive:
            _keep()
        else:
            _keep(owner=handoff.owner)
        response = super().__call__()
        URGENT.set(False)
        if request is not None and handoff is not None and request.hand_over(handoff):
            return response
        self._pool.defer(work)
        return response


def _keep(owner: str | None = None) -> None:
    """Before an answer goes to Slack: the request is kept in the inbox (web/intake.py)."""
    work = current_work()
    if work is not None:
        try:
            work.keep(owner)
        except SQLAlchemyError as exc:
            raise inbox.NotKept(f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}") from None


def acks_first(pool: ListenerPool) -> Callable[..., Any]:
    """A global Bolt middleware: every listener's ack() gives way to the next request."""

    def middleware(context: BoltContext, next: Callable[[], Any]) -> Any:
        context["ack"] = _PoolAck(pool)
        return next()

    return middleware


def create_web_app(
    *,
    bolt_app: App | None,
    db: Database,
    intake: Intake | None = None,
    identity: Identity | None = None,
    dispatch_threads: int = 64,
    signing_secret: str = "",
    max_body_bytes: int = 1_048_576,
    body_timeout: float = 10.0,
    status_page: StatusPageSite | None = None,
    hooks: Sequence[BaseRoute] = (),
    extra_routes: Sequence[BaseRoute] = (),
) -> SlackFirst:
    """Build the ASGI app; `bolt_app` is None in Socket Mode (no Slack HTTP endpoint).

    POST /slack/events (web/slack_endpoint.py) checks the request (web/slack_request.py:
    size, body deadline, signature, parsing, team and app) and hands it to the intake, which
    keeps it in the inbox before it is answered. An Events API delivery is answered 200 as
    soon as it is kept and processed after the answer; a command or an interaction is
    answered when its listener acknowledges (after what it asked for is committed).
    """
    limiter = anyio.CapacityLimiter(dispatch_threads)
    identity = identity or Identity(frozenset(), None)
    endpoint: SlackEndpoint | None = None
    if bolt_app is not None:
        assert intake is not None, "the Slack endpoint keeps requests in the intake's inbox"
        endpoint = SlackEndpoint(
            bolt_app=bolt_app,
            intake=intake,
            identity=identity,
            signing_secret=signing_secret,
            max_body_bytes=max_body_bytes,
            body_timeout=body_timeout,
            threads=dispatch_threads,
        )

    async def healthz(_request: Request) -> Response:
        ok = await anyio.to_thread.run_sync(db.ping, limiter=limiter)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"},
            status_code=200 if ok else 503,
        )

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    if endpoint is not None:  # (reached through Starlette only by other methods: a 405)
        routes.append(Route(SLACK_PATH, endpoint, methods=["POST"]))
    routes.extend(hooks)  # POST /hooks/<source> (web/hooks)
    routes.extend(extra_routes)  # the console, /metrics (app.py decides)
    if status_page is not None:  # the public status page (web/statuspage)
        routes.extend(status_page.routes())
        return SlackFirst(Starlette(routes=routes, middleware=status_page.middleware()), endpoint)
    return SlackFirst(Starlette(routes=routes), endpoint)


def header_timeout_protocol(header_timeout: float) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol (the C parser), closing connections whose request headers
    are late.

    uvicorn times out idle keep-alive connections, but not a client that opens a connection
    and sends its headers slowly (or never). Here the headers of each request must arrive
    within `header_timeout` seconds of the connection opening or the previous response.
    """

    class HeaderTimeoutProtocol(HttpToolsProtocol):
        _header_timer: asyncio.TimerHandle | None = None
        _bytes_since_armed = False
        _headers_done = False

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._bytes_since_armed = self._headers_done = False
            self._header_timer = self.loop.call_later(header_timeout, self._headers_late)

        def _disarm(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def data_received(self, data: bytes) -> None:
            self._bytes_since_armed = True
            super().data_received(data)

        def on_headers_complete(self) -> None:
            self._headers_done = True
            self._disarm()
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and not self.pipeline:
                self._arm()

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.transport.is_closing() or self._headers_done:
                return
            if self._bytes_since_armed:
                client = self.client[0] if self.client else "?"
                log.warning(
                    "refused a request from %s: 408 headers not received within %g s",
                    client,
                    header_timeout,
                )
                self.transport.write(
                    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\n"
                    b"content-length: 0\r\nconnection: close\r\n\r\n"
                )
            self.transport.close()

    return HeaderTimeoutProtocol


def server_config(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    log_level: str = "info",
    header_timeout: float = 10.0,
    graceful_timeout: int = 20,
) -> uvicorn.Config:
    """uvicorn's configuration for the bot: httptools with a header deadline, graceful stop."""
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level=log_level,
        http=header_timeout_protocol(header_timeout),
        timeout_graceful_shutdown=graceful_timeout,
    )


class GracefulServer(uvicorn.Server):
    """uvicorn's server, minus re-raising the stop signal after its graceful shutdown.

    uvicorn re-raises SIGTERM/SIGINT once it has drained requests, which kills the process
    before the bot can finish its listeners' work, stop the scheduler and close the database.
    Here the signal only asks the server to stop; the caller then shuts the rest down.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """Turn SIGTERM and SIGINT into a graceful stop while the server runs."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        originals = {sig: signal.signal(sig, self.handle_exit) for sig in STOP_SIGNALS}
        try:
            yield
        finally:
            for sig, handler in originals.items():
                signal.signal(sig, handler)
