"""Operations: Prometheus metrics (GET /metrics) and structured logs (LOG_FORMAT=json).

Metrics live in one registry per running bot (`Metrics`):

- `incident_bot_ack_seconds{kind}`: from the moment Bolt starts on a request to its ack()
  (kind: command, action, view_submission, view_closed, shortcut, options, event);
- `incident_bot_slack_api_calls_total{method}` and `incident_bot_slack_api_errors_total{method,
  error}`: Web API calls made by the bot's client (`InstrumentedWebClient`);
- `incident_bot_reminders_sent_total{outcome}`: status-update reminders the ticker handled;
- `incident_bot_deliveries_total{channel,outcome}`: items this replica's delivery engine
  handled (channel: `outbox:<subscriber>`, `reminder`, `follow-up reminder`, or a stakeholder
  notice's channel `slack`, `invite`, `email`, `sms`, `webhook`, `mastodon`; outcome: sent,
  found, skipped, failed (retried later), gave_up);
- asked of the database at each scrape (the same for every replica of one database):
  `incident_bot_open_incidents{sev}`, `incident_bot_deliveries_pending{channel}` (outbox
  rows and stakeholder notices not yet delivered, retries included; reminders and follow-up
  reminders past due) and `incident_bot_alerts_received_total{source}` (every delivery of an
  alert, first or repeat).

/metrics is served on its own listener (METRICS_HOST:METRICS_PORT) and/or on the main server
behind `Authorization: Bearer METRICS_TOKEN`; with neither set there is no /metrics.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, ParamSpec, TypeVar

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client import (
    Counter as PromCounter,
)
from slack_bolt import BoltContext, BoltRequest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot.core import logcontext
from storage import Database
from storage.models import Incident
from web.metrics_db import FromDatabase, OpenIncidents
from web.server import ListenerPool

P = ParamSpec("P")
T = TypeVar("T")
ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class Metrics:
    """One bot's metrics and their registry."""

    def __init__(self, db: Database) -> None:
        self.registry = CollectorRegistry()
        self.ack_seconds = Histogram(
            "incident_bot_ack_seconds",
            "Seconds from the start of handling a Slack request to its acknowledgement",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.slack_calls = PromCounter(
            "incident_bot_slack_api_calls",
            "Slack Web API calls, by method",
            ["method"],
            registry=self.registry,
        )
        self.slack_errors = PromCounter(
            "incident_bot_slack_api_errors",
            "Slack Web API calls that failed, by method and error code",
            ["method", "error"],
            registry=self.registry,
        )
        self.reminders = PromCounter(
            "incident_bot_reminders_sent",
            "Status-update reminders handled by the ticker, by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.deliveries = PromCounter(
            "incident_bot_deliveries",
            "Items the delivery engine handled, by channel and outcome",
            ["channel", "outcome"],
            registry=self.registry,
        )
        self.registry.register(OpenIncidents(db))
        self.registry.register(FromDatabase(db))
        self._server: Any = None

    def counters(self) -> dict[str, PromCounter]:
        """The counters a processing worker reports to the front (web/handoff.py)."""
        return {
            "slack_calls": self.slack_calls,
            "slack_errors": self.slack_errors,
            "reminders": self.reminders,
            "deliveries": self.deliveries,
        }

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format."""
        return generate_latest(self.registry)

    def count_reminders(self, outcomes: Counter[str]) -> None:
        """A reminder tick's outcomes (bot.slack.jobs.TickReport.outcomes)."""
        for outcome, n in outcomes.items():
            self.reminders.labels(outcome=outcome).inc(n)

    def count_delivery(self, channel: str, outcome: str) -> None:
        """One item the delivery engine handled (`Services.delivery_hooks`)."""
        self.deliveries.labels(channel=channel, outcome=outcome).inc()

    # -- serving ---------------------------------------------------------------------------

    def route(self, token: str) -> Route:
        """GET /metrics on the main server, for `Authorization: Bearer <token>` only."""
        expected = f"Bearer {token}".encode()

        def metrics(request: Request) -> Response:
            given = request.headers.get("authorization", "").encode()
            if not secrets.compare_digest(given, expected):
                return Response(
                    "a bearer token is needed\n",
                    status_code=401,
                    headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
                )
            return Response(self.exposition(), media_type=CONTENT_TYPE_LATEST)

        return Route("/metrics", metrics, methods=["GET"])

    def serve(self, host: str, port: int) -> int:
        """Serve /metrics on its own listener; returns the port it listens on."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        return int(server.server_address[1])

    def stop(self) -> None:
        """Stop the own listener, if any."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# -- Slack Web API calls ----------------------------------------------------------------------


class InstrumentedWebClient(WebClient):
    """A WebClient that counts its calls and failures and notes the last error code."""

    metrics: Metrics | None = None

    def api_call(self, api_method: str, **kwargs: Any) -> SlackResponse:
        metrics = self.metrics
        if metrics is not None:
            metrics.slack_calls.labels(method=api_method).inc()
        try:
            response = super().api_call(api_method, **kwargs)
        except SlackApiError as exc:
            error = str(exc.response.get("error") or exc.response.status_code)
            if metrics is not None:
                metrics.slack_errors.labels(method=api_method, error=error).inc()
            logcontext.slack_error.set((api_method, error))
            raise
        logcontext.slack_error.set(None)
        return response


# -- requests: kind, acknowledgement latency ---------------------------------------------------


def request_kind(body: dict[str, Any]) -> str:
    """command, action, view_submission, view_closed, shortcut, options or event."""
    if "command" in body:
        return "command"
    kind = str(body.get("type") or "")
    return {
        "block_actions": "action",
        "interactive_message": "action",
        "view_submission": "view_submission",
        "view_closed": "view_closed",
        "shortcut": "shortcut",
        "message_action": "shortcut",
        "block_suggestion": "options",
        "event_callback": "event",
    }.get(kind, kind or "other")


class _TimedAck:
    """Wraps the listener's ack(): the first call records the latency."""

    def __init__(self, ack: Any, observe: Callable[[], None]) -> None:
        self._ack = ack
        self._observe = observe
        self._done = False

    def _record(self) -> None:
        if not self._done:
            self._done = True
            self._observe()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._record()
        return self._ack(*args, **kwargs)

    def then(self, work: Callable[[], Any]) -> Any:
        self._record()
        return self._ack.then(work)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ack, name)


def ack_timer(metrics: Metrics | None) -> Callable[..., Any]:
    """A global Bolt middleware (after acks_first): request kind for logs, ack latency."""

    def middleware(context: BoltContext, req: BoltRequest, next: Callable[[], Any]) -> Any:
        kind = request_kind(req.body if isinstance(req.body, dict) else {})
        logcontext.request_kind.set(kind)
        if metrics is not None and context.get("ack") is not None:
            started = time.perf_counter()
            histogram = metrics.ack_seconds.labels(kind=kind)

            def observe() -> None:
                histogram.observe(time.perf_counter() - started)

            context["ack"] = _TimedAck(context["ack"], observe)
        return next()

    return middleware


class ContextListenerPool(ListenerPool):
    """The listener pool, carrying each request's context variables (its request kind, for
    the logs) into the threads that run its listener and deferred work."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        context = contextvars.copy_context()

        def run() -> T:
            return context.run(fn, *args, **kwargs)

        return super().submit(run)

    def defer(self, work: Callable[[], Any]) -> None:
        context = contextvars.copy_context()
        super().defer(lambda: context.run(work))


# -- structured logs -------------------------------------------------------------------------


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and what it is about."""

    def __init__(self, number_of: Callable[[int], int | None] | None = None) -> None:
        super().__init__()
        self.number_of = number_of

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        incident = getattr(record, "incident", None)
        incident_id = logcontext.incident_id.get()
        if incident is None and incident_id is not None and self.number_of is not None:
            incident = self.number_of(incident_id)
        if incident is not None:
            data["incident"] = incident
        kind = getattr(record, "request_kind", None) or logcontext.request_kind.get()
        if kind:
            data["request_kind"] = kind
        error = self._slack_error(record)
        if error is not None:
            data["slack_method"], data["slack_error"] = error
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, ensure_ascii=False, default=str)

    @staticmethod
    def _slack_error(record: logging.LogRecord) -> tuple[str, str] | None:
        if record.exc_info and isinstance(record.exc_info[1], SlackApiError):
            exc = record.exc_info[1]
            api = str(getattr(exc.response, "api_url", "")).rstrip("/").rsplit("/", 1)[-1]
            return api, str(exc.response.get("error"))
        return logcontext.slack_error.get()


def incident_numbers(db: Database) -> Callable[[int], int | None]:
    """incident id -> number, remembered (for the JSON logs)."""

    @lru_cache(maxsize=4096)
    def number_of(incident_id: int) -> int | None:
        try:
            with db.read() as session:
                incident = session.get(Incident, incident_id)
                return incident.number if incident is not None else None
        except Exception:
            return None

    return number_of


def configure_logging(level: str, log_format: str, db: Database | None = None) -> None:
    """The root logger: plain text lines, or one JSON object per line."""
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonFormatter(incident_numbers(db) if db is not None else None))
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)


def install_number_lookup(db: Database) -> None:
    """Once the database is known, JSON log lines name the incident by its number."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, JsonFormatter):
            handler.formatter.number_of = incident_numbers(db)
