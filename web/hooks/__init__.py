"""POST /hooks/<source>: alerts from monitoring tools, stored before they are acknowledged.

Every request goes the same way: credentials (401, nothing stored), size (413 over 1 MiB,
by Content-Length and while reading), body (400 with the reason), then the alerts are
stored in one transaction and only then answered 200. A database that does not answer
within the deadline gets the sender a 503, so it tries again later (a retry is harmless:
alerts are deduplicated, PagerDuty deliveries are recorded by their X-Webhook-Id). The store
is not abandoned: once it commits, triage hears of it (on_stored) as if it had been in time.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from bot.alerts import auth
from bot.alerts.intake import IntakeResult, store
from bot.alerts.mapping import AlertMapping
from bot.alerts.model import Batch, MalformedPayload, Source
from bot.alerts.parsers import parse_grafana, parse_opsgenie, parse_pagerduty, parse_prometheus
from bot.alerts.rules import AlertRules
from bot.settings import Settings
from storage import Database
from web.hooks.body import Refused, decode, read_body, unauthorized

log = logging.getLogger(__name__)

DEADLINE_SECONDS = 0.9  # senders want an answer within 1 s
STORE_THREADS = 16
OnStored = Callable[[IntakeResult], None]


@dataclass
class AlertHooks:
    """The webhook endpoints of one bot."""

    settings: Settings
    db: Database
    rules: AlertRules
    on_stored: OnStored | None = None
    threads: int = STORE_THREADS
    deadline: float = DEADLINE_SECONDS  # then 503; the store goes on, a retry is "repeated"

    def __post_init__(self) -> None:
        self._limiter = anyio.CapacityLimiter(self.threads)

    # --- Credentials --------------------------------------------------------------------------

    def _bearer(self, request: Request) -> None:
        if not self.settings.alert_webhook_token:
            raise unauthorized("alert intake is off: ALERT_WEBHOOK_TOKEN is not set")
        if not auth.bearer_ok(
            request.headers.get("authorization"), self.settings.alert_webhook_token
        ):
            raise unauthorized()

    def _opsgenie(self, request: Request) -> None:
        header = request.headers.get("authorization")
        settings = self.settings
        if auth.basic_ok(
            header, settings.opsgenie_webhook_username, settings.opsgenie_webhook_password
        ):
            return
        self._bearer(request)

    def _grafana(self, request: Request, body: bytes) -> None:
        settings = self.settings
        if not settings.grafana_webhook_secret:
            self._bearer(request)
            return
        timestamp_header = settings.grafana_timestamp_header
        if not auth.grafana_ok(
            request.headers.get(settings.grafana_signature_header),
            body,
            settings.grafana_webhook_secret,
            timestamp=request.headers.get(timestamp_header) if timestamp_header else None,
            timestamp_required=bool(timestamp_header),
        ):
            raise unauthorized("missing or wrong signature")

    def _pagerduty(self, request: Request, body: bytes) -> None:
        secrets = auth.secrets_of(self.settings.pagerduty_webhook_secret)
        if not secrets:
            self._bearer(request)
            return
        if not auth.pagerduty_ok(request.headers.get("x-pagerduty-signature"), body, secrets):
            raise unauthorized("missing or wrong X-PagerDuty-Signature")

    # --- Endpoints ----------------------------------------------------------------------------

    async def _handle(
        self,
        request: Request,
        parse: Callable[[bytes, Request], Batch],
        *,
        check_before: Callable[[Request], None] | None = None,
        check_after: Callable[[Request, bytes], None] | None = None,
    ) -> Response:
        try:
            if check_before is not None:
                check_before(request)
            body = await read_body(request)
            if check_after is not None:
                check_after(request, body)
            try:
                batch = parse(body, request)
            except MalformedPayload as exc:
                raise Refused(400, str(exc)) from None
            return await self._store(batch)
        except Refused as refused:
            return refused.response()

    def _store_and_tell(self, batch: Batch) -> IntakeResult:
        """Store, then tell triage, in the store's thread: a store that outlives the deadline
        (its sender got a 503) still gets its triage message posted now, not at the next
        sweep, and the sender's retry, being "repeated", changes nothing more."""
        result = store(self.db, batch, rules=self.rules)
        if self.on_stored is not None and (result.groups or result.opened):
            try:
                self.on_stored(result)
            except Exception:
                log.exception("on_stored failed after %s alerts were stored", batch.source)
        return result

    async def _store(self, batch: Batch) -> Response:
        result: IntakeResult | None = None
        try:
            with anyio.move_on_after(self.deadline):
                result = await anyio.to_thread.run_sync(
                    lambda: self._store_and_tell(batch),
                    limiter=self._limiter,
                    abandon_on_cancel=True,
                )
        except Exception as exc:  # the database refused: the sender must try again
            log.warning("could not store %s alerts: %s: %s", batch.source, type(exc).__name__, exc)
            raise Refused(
                503, "the alert could not be stored; try again", {"Retry-After": "5"}
            ) from None
        if result is None:
            log.warning(
                "storing %s alerts took over %.1fs; answered 503", batch.source, self.deadline
            )
            raise Refused(503, "storing the alert took too long; try again", {"Retry-After": "5"})
        return JSONResponse(result.as_json())

    async def alertmanager(self, request: Request) -> Response:
        return await self._handle(
            request,
            lambda body, req: parse_prometheus(decode(body, req.headers.get("content-type", ""))),
            check_before=self._bearer,
        )

    async def grafana(self, request: Request) -> Response:
        return await self._handle(
            request,
            lambda body, req: parse_grafana(decode(body, req.headers.get("content-type", ""))),
            check_after=self._grafana,
        )

    async def pagerduty(self, request: Request) -> Response:
        return await self._handle(
            request,
            lambda body, req: parse_pagerduty(
                decode(body, req.headers.get("content-type", "")),
                (req.headers.get("x-webhook-id") or "").strip()[:128] or None,
            ),
            check_after=self._pagerduty,
        )

    async def opsgenie(self, request: Request) -> Response:
        return await self._handle(
            request,
            lambda body, req: parse_opsgenie(decode(body, req.headers.get("content-type", ""))),
            check_before=self._opsgenie,
        )

    def _mapped(self, mapping: AlertMapping, source: Source) -> Callable[[bytes, Request], Batch]:
        def parse(body: bytes, request: Request) -> Batch:
            payload = decode(body, request.headers.get("content-type", ""), form_allowed=True)
            return mapping.parse(payload, source)

        return parse

    async def datadog(self, request: Request) -> Response:
        mapping = self.rules.mapping("datadog")
        assert mapping is not None  # built in
        return await self._handle(
            request, self._mapped(mapping, Source.DATADOG), check_before=self._bearer
        )

    async def generic(self, request: Request) -> Response:
        name = request.path_params.get("mapping", "generic")
        mapping = self.rules.mapping(name)
        if mapping is None:
            try:
                self._bearer(request)  # say "unauthorized" before "no such mapping"
            except Refused as refused:
                return refused.response()
            return JSONResponse({"error": f"no mapping named {name!r}"}, status_code=404)
        return await self._handle(
            request, self._mapped(mapping, Source.GENERIC), check_before=self._bearer
        )

    def routes(self) -> list[BaseRoute]:
        """The routes to mount on the bot's server."""
        handlers: dict[str, Callable[[Request], Awaitable[Response]]] = {
            "/hooks/alertmanager": self.alertmanager,
            "/hooks/grafana": self.grafana,
            "/hooks/pagerduty": self.pagerduty,
            "/hooks/opsgenie": self.opsgenie,
            "/hooks/datadog": self.datadog,
            "/hooks/generic": self.generic,
            "/hooks/generic/{mapping}": self.generic,
        }
        return [Route(path, handler, methods=["POST"]) for path, handler in handlers.items()]
