"""Wiring only: load settings, build the app, register handlers, start scheduler and server.

python app.py            # migrate the database, then serve (HTTP or Socket Mode)
python app.py --playground   # the playground: a built-in Slack emulator (also without a token)
python app.py migrate    # apply database migrations and exit
python app.py export-status DIR   # write the status page, its API files and feeds to DIR
"""

from __future__ import annotations

import gc

# Start-up: the imports below build many objects that live as long as the process (tables,
# models, handlers); the collector's passes over them while they are made find nothing and
# cost about a tenth of the start-up. It is on again right after them.
gc.disable()
# ruff: noqa: E402

import argparse
import contextlib
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler
from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from starlette.routing import BaseRoute

import handlers
from bot.core.errors import ConfigError
from bot.settings import Settings, load_settings
from bot.slack import identity, jobs, subscribers
from bot.slack.services import Services
from handlers import access
from storage import Database
from web import handoff, keepalive, playground, worker
from web.async_keep import AsyncKeep
from web.hooks import AlertHooks
from web.intake import Intake
from web.journal import Journal
from web.observability import (
    ContextListenerPool,
    InstrumentedWebClient,
    Metrics,
    ack_timer,
    configure_logging,
    install_number_lookup,
)
from web.server import GracefulServer, ListenerPool, acks_first, create_web_app, server_config
from web.slack_endpoint import SlackFirst
from web.socket_mode import DurableSocketMode
from web.statuspage.site import StatusPageSite

gc.enable()

log = logging.getLogger("incident_bot")
LISTENER_THREADS_MAX = 1024  # threads are added only while none is idle
WORKER_FIRST_TICKS_AFTER = 10.0  # seconds: the worker's jobs first run then (jobs.hold_first_runs)


@dataclass
class Runtime:
    """Everything a running bot owns, so it can be stopped in order."""

    services: Services
    bolt_app: App
    web_app: SlackFirst
    scheduler: BackgroundScheduler
    executor: ThreadPoolExecutor
    intake: Intake
    status_page: StatusPageSite | None = None
    metrics: Metrics | None = None
    metrics_port: int | None = None  # where /metrics listens on its own, once started

    def start_background(self, *, serving: bool = True) -> None:
        """Start the outbox and the scheduler, and when `serving` (not in the processing
        worker) the status page's cache, the alert triage worker and the metrics listener
        (the caller starts the server)."""
        self.services.outbox.start()
        settings = self.services.settings
        if not serving:
            self.scheduler.start()
            return
        database = self.services.db.sqlite_file
        if database and settings.inbox_journal == "auto" and not settings.socket_mode:
            self.intake.journal = Journal(database)  # before the first sweep, which recovers
        if not self.services.db.is_sqlite and not settings.socket_mode:
            self.intake.async_keep = AsyncKeep(self.services.db.url, lease=self.intake.lease)
        if self.status_page is not None:
            self.status_page.start()
        if self.metrics is not None and settings.metrics_port:
            self.metrics_port = self.metrics.serve(settings.metrics_host, settings.metrics_port)
            log.info("metrics on http://%s:%s/metrics", settings.metrics_host, self.metrics_port)
        self.scheduler.start()
        if self.services.alerts is not None:
            self.services.alerts.start()

    def shutdown(self) -> None:
        """Finish in-flight listener work, stop the scheduler, close the database."""
        self.web_app.drain()  # requests answered already are processed to the end
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        if self.services.alerts is not None:
            self.services.alerts.stop()
        self.executor.shutdown(wait=True)
        self.services.outbox.stop()  # deliveries in flight finish; queued ones are given back
        if self.status_page is not None:
            self.status_page.stop()
        if self.services.status_page_jobs is not None:
            self.services.status_page_jobs.stop()
        if self.metrics is not None:
            self.metrics.stop()
        self.intake.close()  # the requests whose work just ended are marked processed
        if self.intake.journal is not None:
            self.intake.journal.close()  # emptied if all of it is in the inbox
        if self.intake.async_keep is not None:
            self.intake.async_keep.close()
        self.services.db.dispose()


def slack_client(settings: Settings, metrics: Metrics | None = None) -> WebClient:
    """A Web API client that retries rate limits, 5xx answers and dropped connections."""
    client = InstrumentedWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )
    client.metrics = metrics
    return client


# Bolt switches to OAuth installation mode (tokens from an installation store, "installation
# no longer available" for every request) when it finds these in the environment. Here they
# are the console's Sign in with Slack client, so Bolt must never see them.
BOLT_OAUTH_ENV = ("SLACK_CLIENT_ID", "SLACK_CLIENT_SECRET")
_ENV_LOCK = threading.Lock()


@contextlib.contextmanager
def _hidden_from_bolt() -> Iterator[None]:
    with _ENV_LOCK:
        saved = {name: os.environ.pop(name) for name in BOLT_OAUTH_ENV if name in os.environ}
        try:
            yield
        finally:
            os.environ.update(saved)


def bolt_app(settings: Settings, client: WebClient, executor: ListenerPool) -> App:
    """The Bolt app, authorised by the one bot token whatever the environment holds."""
    with _hidden_from_bolt():
        app = App(
            # Named here: Bolt otherwise names itself after its caller's file, found by
            # inspect.stack(), which reads the source of every frame (0.1-0.2 s per app).
            name="app.py",
            client=client,
            signing_secret=settings.slack_signing_secret or None,
            process_before_response=False,
            listener_executor=executor,
            # web/server.py verifies signatures on the raw bytes before anything is parsed.
            request_verification_enabled=False,
            oauth_settings=None,
            oauth_flow=None,
            installation_store=None,
        )
    if app.oauth_flow is not None or app.installation_store is not None:
        raise ConfigError("Bolt started in OAuth installation mode; the bot token must be used")
    return app


def web_routes(services: Services, metrics: Metrics) -> list[BaseRoute]:
    """Routes beyond Slack's: the console when Sign in with Slack is configured, /metrics
    behind a bearer token when METRICS_TOKEN is set."""
    routes: list[BaseRoute] = []
    if services.settings.metrics_token:
        routes.append(metrics.route(services.settings.metrics_token))
    if services.settings.console_enabled:
        from web.console import console_routes

        routes += console_routes(services)
    return routes


def alert_hooks(services: Services) -> list[BaseRoute]:
    """POST /hooks/<source>: stored alerts go on to their triage messages."""
    triage = services.alerts
    hooks = AlertHooks(
        settings=services.settings, db=services.db, rules=triage.rules, on_stored=triage.on_stored
    )
    return hooks.routes()


def create_runtime(
    settings: Settings, extra_routes: Sequence[BaseRoute] = (), *, owner: str | None = None
) -> Runtime:
    """Build the whole bot from settings: database, Slack client, Bolt app, web app.

    `owner`: the inbox lease owner (the processing worker's, chosen by the front)."""
    settings.check_slack_credentials()
    keepalive.install()  # slack_sdk's urllib calls reuse connections (no handshake per call)
    db = Database(settings.database_url)
    db.migrate()
    install_number_lookup(db)  # JSON log lines name incidents by number
    metrics = Metrics(db)
    client = slack_client(settings, metrics)
    us = identity.learn(settings, client)  # who requests must be for (auth.test, bots.info)
    services = Services(settings=settings, db=db, slack=client)
    # At most WORKER_THREADS listeners work after acknowledging; new requests never wait.
    executor = ContextListenerPool(
        max_workers=LISTENER_THREADS_MAX, background=settings.worker_threads
    )
    bolt = bolt_app(settings, client, executor)
    bolt.use(acks_first(executor))
    bolt.use(ack_timer(metrics))  # after acks_first: times the pool's ack
    handlers.register_all(bolt, services)
    intake = Intake(
        bolt_app=bolt,
        db=db,
        owner=owner or jobs.replica_id(),
        lease_seconds=settings.inbox_lease_seconds,
        retention_days=settings.inbox_retention_days,
        resumable=handlers.resumable,
    )
    status_page = None
    if settings.status_page is not None:
        status_page = StatusPageSite(
            db=db,
            config=settings.status_page,
            refresh_seconds=settings.status_page_refresh_seconds,
        )
    web_app = create_web_app(
        bolt_app=None if settings.socket_mode else bolt,
        db=db,
        intake=intake,
        identity=us,
        dispatch_threads=settings.worker_threads,
        signing_secret=settings.slack_signing_secret,
        max_body_bytes=settings.request_max_bytes,
        body_timeout=settings.request_body_timeout_seconds,
        status_page=status_page,
        hooks=alert_hooks(services),
        extra_routes=[*web_routes(services, metrics), *extra_routes],
    )
    scheduler = jobs.Scheduler(timezone="UTC")
    ticker = jobs.schedule(scheduler, services)
    ticker.on_report = lambda report: metrics.count_reminders(report.outcomes)
    services.delivery_hooks.append(metrics.count_delivery)
    intake.schedule(scheduler)
    subscribers.install(services, reminder_ticker=ticker)  # before any request is served
    return Runtime(services, bolt, web_app, scheduler, executor, intake, status_page, metrics)


def serve(runtime: Runtime, *, worker: bool = True) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly.

    Over HTTP, with `worker` and PROCESS_WORKER, a processing worker runs beside (handoff.py).
    """
    settings = runtime.services.settings
    runtime.start_background()
    processing: handoff.WorkerProcess | None = None
    if worker and settings.worker_wanted:
        processing = start_worker(runtime)
    # What start-up built lives as long as the process: keep it out of the garbage collector's
    # full passes, whose pauses (100-300 ms) otherwise stall every acknowledgement under load.
    gc.collect()
    gc.freeze()
    socket_handler: DurableSocketMode | None = None
    if settings.socket_mode:
        socket_handler = DurableSocketMode(
            app_token=settings.slack_app_token,
            web_client=runtime.services.slack,
            intake=runtime.intake,
        )
        socket_handler.connect()
        log.info("connected to Slack in Socket Mode")
    config = server_config(
        runtime.web_app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        header_timeout=settings.request_header_timeout_seconds,
    )
    server = GracefulServer(config)
    try:
        server.run()  # SIGTERM/SIGINT: stop accepting, finish in-flight requests, return
    finally:
        if socket_handler is not None:
            socket_handler.close()
        if processing is not None:
            processing.stop()  # it finishes what it was given, then exits
        runtime.shutdown()
        log.info("stopped")


def start_worker(runtime: Runtime) -> handoff.WorkerProcess:
    """Start the processing worker; requests are processed here until it is ready."""
    intake, metrics = runtime.intake, runtime.metrics

    def ready(given: handoff.Handoff | None) -> None:
        intake.handoff = given

    def handed_to() -> Callable[[], None] | None:
        given = intake.handoff
        return given.kick if given is not None and given.alive else None

    runtime.services.outbox.handed_to = handed_to  # the worker delivers while it runs

    def counts(reported: dict[str, object]) -> None:
        if metrics is not None:
            handoff.add_counts(metrics.counters(), reported)

    processing = handoff.WorkerProcess(
        command=[sys.executable, os.path.abspath(__file__), "worker"],
        owner=jobs.replica_id,
        on_ready=ready,
        on_counts=counts,
        journal=intake.journal,
    )
    processing.start()
    return processing


def serve_worker(settings: Settings) -> int:
    """The processing worker (started by `serve`, never by hand): process what the front
    hands over until it ends the pipe."""
    status = worker.become_worker()
    runtime = create_runtime(settings, owner=os.environ[handoff.OWNER_ENV])
    runtime.services.db.defer_to_front()  # SQLite: the front's answers write first
    jobs.hold_first_runs(runtime.scheduler, WORKER_FIRST_TICKS_AFTER)  # the front ran them
    runtime.start_background(serving=False)
    gc.collect()
    gc.freeze()
    reporter = None
    if runtime.metrics is not None:
        reporter = worker.CountReporter(status, runtime.metrics.counters())
        reporter.start()
    replies = worker.Replies(status)
    limits = settings.limits
    status.send({"ready": True})
    try:
        worker.process_handoffs(
            sys.stdin.buffer,
            runtime.intake,
            threads=settings.worker_threads,
            kick=runtime.services.outbox.kick,
            replies=replies,
            riders=lambda spec: access.rider_for(spec, limits),
        )
    finally:
        replies.close()  # the front empties its journal of what was moved
        if reporter is not None:
            reporter.stop()
        runtime.shutdown()
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="incident-bot", description=__doc__.splitlines()[0])
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "export-status", "worker"],
        help="worker: the processing worker, which `serve` starts itself",
    )
    parser.add_argument("directory", nargs="?", help="export-status: where to write the files")
    parser.add_argument(
        "--playground",
        action="store_true",
        help="run against the built-in Slack emulator (the default without SLACK_BOT_TOKEN)",
    )
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(settings.log_level, settings.log_format)
    if settings.log_level != "DEBUG":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick otherwise
    if args.command == "migrate":
        Database(settings.database_url).migrate()
        print("database is up to date")
        return 0
    if args.command == "export-status":
        from web.statuspage.export import export_command

        return export_command(settings, args.directory)
    if args.command == "worker":
        return serve_worker(settings)
    if args.command == "serve" and playground.wanted(args.playground, settings):
        return serve_playground(settings)
    try:
        runtime = create_runtime(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    serve(runtime)
    return 0


def serve_playground(settings: Settings) -> int:
    """The bot against the built-in Slack emulator (web/playground/startup.py)."""
    from web.playground.startup import start_session

    try:
        session = start_session(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    configure_logging(session.settings.log_level, session.settings.log_format)
    try:
        runtime = create_runtime(session.settings, extra_routes=session.routes())
        session.connect()
        print(session.banner(), flush=True)
        serve(runtime, worker=False)  # its settings live here only; one process is plenty
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    finally:
        session.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
