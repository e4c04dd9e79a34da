"""Starlette application served by uvicorn.

Bolt's own Starlette adapter awaits `app.dispatch` on the event loop thread, so one slow
listener would hold every other request. Here dispatch runs in a worker thread: the sync
Bolt App acknowledges as soon as a listener calls ack(), and the listener's remaining work
goes on in Bolt's listener executor, a `ListenerPool` that puts acknowledgements first.
"""

from __future__ import annotations

import contextlib
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

import anyio
import uvicorn
from slack_bolt import Ack, App, BoltContext, BoltRequest, BoltResponse
from slack_bolt.adapter.starlette.handler import to_bolt_request, to_starlette_response
from slack_sdk.signature import SignatureVerifier
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from storage import Database
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
        """

        def run() -> None:
            with self._slots:
                try:
                    work()
                except Exception:
                    log.exception("deferred listener work failed")

        self._deferred.submit(run)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking listeners, then finish the work they deferred."""
        super().shutdown(wait=wait, cancel_futures=cancel_futures)
        self._deferred.shutdown(wait=wait, cancel_futures=cancel_futures)

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        local = self._local

        def run() -> T:
            local.listening, local.slot = True, False
            try:
                return fn(*args, **kwargs)
            finally:
                local.listening = False
                if local.slot:
                    local.slot = False
                    self._slots.release()

        return super().submit(run)

    def acknowledged(self) -> None:
        """In a listener that has just acknowledged: wait for a slot for the rest of its work."""
        local = self._local
        if getattr(local, "listening", False) and not local.slot:
            self._slots.acquire()
            local.slot = True


class _PoolAck(Ack):
    """ack() that hands the rest of the listener to the pool's background slots."""

    def __init__(self, pool: ListenerPool) -> None:
        super().__init__()
        self._pool = pool

    def __call__(self, *args: Any, **kwargs: Any) -> BoltResponse:
        response = super().__call__(*args, **kwargs)
        self._pool.acknowledged()
        return response

    def then(self, work: Callable[[], Any]) -> BoltResponse:
        """Acknowledge, and leave `work` to the pool's background slots (see ListenerPool.defer)."""
        response = super().__call__()
        self._pool.defer(work)
        return response


def acks_first(pool: ListenerPool) -> Callable[..., Any]:
    """A global Bolt middleware: every listener's ack() gives way to the next request."""

    def middleware(context: BoltContext, next: Callable[[], Any]) -> Any:
        context["ack"] = _PoolAck(pool)
        return next()

    return middleware


def is_event_callback(body: bytes, content_type: str) -> bool:
    """True for an Events API delivery (not a command, an interaction or url_verification)."""
    if not content_type.startswith("application/json") or b'"event_callback"' not in body:
        return False
    try:
        data = json.loads(body)
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("type") == "event_callback"


def create_web_app(
    *,
    bolt_app: App | None,
    db: Database,
    dispatch_threads: int = 64,
    signing_secret: str = "",
    status_page: StatusPageSite | None = None,
    hooks: Sequence[BaseRoute] = (),
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Build the ASGI app; `bolt_app` is None in Socket Mode (no Slack HTTP endpoint).

    Events API deliveries with a valid signature are answered 200 on the event loop and then
    handed to Bolt: Slack needs nothing but the 200, and the answer then never waits for a
    thread. Everything else (commands, interactions, bad signatures) is answered by Bolt.
    """
    limiter = anyio.CapacityLimiter(dispatch_threads)
    verifier = SignatureVerifier(signing_secret) if signing_secret else None

    async def dispatch(bolt_request: BoltRequest) -> BoltResponse:
        assert bolt_app is not None
        return await anyio.to_thread.run_sync(bolt_app.dispatch, bolt_request, limiter=limiter)

    async def dispatch_event(bolt_request: BoltRequest) -> None:
        response = await dispatch(bolt_request)
        if response.status != 200:
            log.warning("event answered 200, but Bolt said %s: %s", response.status, response.body)

    async def slack_events(request: Request) -> Response:
        body = await request.body()
        bolt_request = to_bolt_request(request, body)
        if (
            verifier is not None
            and is_event_callback(body, request.headers.get("content-type", ""))
            and verifier.is_valid_request(body, request.headers)
        ):
            return Response(
                status_code=200, background=BackgroundTask(dispatch_event, bolt_request)
            )
        return to_starlette_response(await dispatch(bolt_request))

    async def healthz(_request: Request) -> Response:
        ok = await anyio.to_thread.run_sync(db.ping, limiter=limiter)
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "database": "ok" if ok else "unreachable"},
            status_code=200 if ok else 503,
        )

    routes: list[BaseRoute] = [Route("/healthz", healthz, methods=["GET"])]
    if bolt_app is not None:
        routes.append(Route("/slack/events", slack_events, methods=["POST"]))
    routes.extend(hooks)  # POST /hooks/<source> (web/hooks)
    routes.extend(extra_routes)  # the console, /metrics (app.py decides)
    if status_page is not None:  # the public status page (web/statuspage)
        routes.extend(status_page.routes())
        return Starlette(routes=routes, middleware=status_page.middleware())
    return Starlette(routes=routes)


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
