"""Wiring only: load settings, build the app, register handlers, start scheduler and server.

python app.py            # migrate the database, then serve (HTTP or Socket Mode)
python app.py migrate    # apply database migrations and exit
"""

from __future__ import annotations

import argparse
import gc
import logging
import sys
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
from starlette.applications import Starlette

import handlers
from bot.core.errors import ConfigError
from bot.settings import Settings, load_settings
from bot.slack import identity, jobs, subscribers
from bot.slack.services import Services
from storage import Database
from web import keepalive
from web.intake import Intake
from web.server import GracefulServer, ListenerPool, acks_first, create_web_app, server_config
from web.socket_mode import DurableSocketMode

log = logging.getLogger("incident_bot")
LISTENER_THREADS_MAX = 1024  # threads are added only while none is idle


@dataclass
class Runtime:
    """Everything a running bot owns, so it can be stopped in order."""

    services: Services
    bolt_app: App
    web_app: Starlette
    scheduler: BackgroundScheduler
    executor: ThreadPoolExecutor
    intake: Intake

    def start_background(self) -> None:
        """Start the scheduler (the server is started by the caller)."""
        self.scheduler.start()

    def shutdown(self) -> None:
        """Finish in-flight listener work, stop the scheduler, close the database."""
        if self.scheduler.running:
            self.scheduler.shutdown(wait=True)
        self.executor.shutdown(wait=True)
        self.intake.close()  # the requests whose work just ended are marked processed
        self.services.db.dispose()


def slack_client(settings: Settings) -> WebClient:
    """A Web API client that retries rate limits, 5xx answers and dropped connections."""
    return WebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        timeout=30,
        retry_handlers=[
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=3),
            ConnectionErrorRetryHandler(max_retry_count=2),
        ],
    )


def create_runtime(settings: Settings) -> Runtime:
    """Build the whole bot from settings: database, Slack client, Bolt app, web app."""
    settings.check_slack_credentials()
    keepalive.install()  # slack_sdk's urllib calls reuse connections (no handshake per call)
    client = slack_client(settings)
    us = identity.learn(settings, client)  # who requests must be for (auth.test, bots.info)
    db = Database(settings.database_url)
    db.migrate()
    services = Services(settings=settings, db=db, slack=client)
    subscribers.install(services)
    # At most WORKER_THREADS listeners work after acknowledging; new requests never wait.
    executor = ListenerPool(max_workers=LISTENER_THREADS_MAX, background=settings.worker_threads)
    bolt_app = App(
        client=client,
        signing_secret=settings.slack_signing_secret or None,
        process_before_response=False,
        listener_executor=executor,
        # web/server.py verifies signatures on the raw bytes before anything is parsed.
        request_verification_enabled=False,
    )
    bolt_app.use(acks_first(executor))
    handlers.register_all(bolt_app, services)
    intake = Intake(
        bolt_app=bolt_app,
        db=db,
        owner=jobs.replica_id(),
        lease_seconds=settings.inbox_lease_seconds,
        retention_days=settings.inbox_retention_days,
        resumable=handlers.resumable,
    )
    web_app = create_web_app(
        bolt_app=None if settings.socket_mode else bolt_app,
        db=db,
        intake=intake,
        identity=us,
        dispatch_threads=settings.worker_threads,
        signing_secret=settings.slack_signing_secret,
        max_body_bytes=settings.request_max_bytes,
        body_timeout=settings.request_body_timeout_seconds,
    )
    scheduler = BackgroundScheduler(timezone="UTC")
    jobs.schedule(scheduler, services)
    intake.schedule(scheduler)
    return Runtime(services, bolt_app, web_app, scheduler, executor, intake)


def serve(runtime: Runtime) -> None:
    """Run until SIGTERM or SIGINT, then shut down cleanly."""
    settings = runtime.services.settings
    runtime.start_background()
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
        runtime.shutdown()
        log.info("stopped")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="incident-bot", description=__doc__.splitlines()[0])
    parser.add_argument("command", nargs="?", default="serve", choices=["serve", "migrate"])
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if settings.log_level != "DEBUG":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # one line per tick otherwise
    if args.command == "migrate":
        Database(settings.database_url).migrate()
        print("database is up to date")
        return 0
    try:
        runtime = create_runtime(settings)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    serve(runtime)
    return 0


if __name__ == "__main__":
    sys.exit(main())
