"""POST /slack/events as a bare ASGI application, in front of the Starlette app.

Every request Slack sends comes here, and Slack waits for each answer, so this path has as
few layers as Bolt's own ASGI adapter (the benchmark's baseline): no middleware, router or
request object, and no thread borrowed per request to keep one answered at once.

- The body is read with a size limit and a deadline, its signature checked, then parsed
  (web/slack_request.py); a refusal is a short plain-text answer and one log line.
- An event, a command, a button press or a shortcut (`answered_at_once`) is kept in the
  inbox with every request that arrived while it was written, in one statement
  (`Intake.store_async`, web/group_commit.py), answered 200, and processed after the answer
  has left: on a thread of `processing`, or by the processing worker (web/handoff.py). On
  SQLite it is kept in this process's journal instead (web/journal.py), which needs no
  database lock, and moved into the inbox once answered.
- A form submission is answered when its listener acknowledges, which it does only once the
  submission is kept (`Intake.accept`, on a thread of `answers`).

`SlackFirst` sends POST /slack/events here and everything else to the Starlette app (which
has the route too, so a GET there is still a 405).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from slack_bolt import App, BoltResponse
from sqlalchemy.exc import SQLAlchemyError

from bot.core import inbox
from bot.slack.identity import Identity
from storage.answering import ANSWERING
from web.intake import Intake
from web.intake_work import Kept, Work, answered_at_once, person_of
from web.slack_request import Refused, parse, read_body, verify
from web.slack_request import bolt_request as bolt_request_of

if TYPE_CHECKING:
    from web.handoff import Handoff

log = logging.getLogger(__name__)

PATH = "/slack/events"
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
T = TypeVar("T")


class Answer:
    """What goes back to Slack, and what runs once it has left."""

    __slots__ = ("after", "body", "headers", "status")

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        after: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.after = after  # run on the event loop once the answer has left


def _from_bolt(response: BoltResponse) -> Answer:
    body = response.body.encode() if isinstance(response.body, str) else bytes(response.body)
    return Answer(response.status, body, response.first_headers_without_set_cookie())


def _refusal(refused: Refused) -> Answer:
    headers = {"content-type": "text/plain; charset=utf-8"}
    if refused.status in (408, 413):
        headers["connection"] = "close"
    return Answer(refused.status, refused.reason.encode(), headers)


class SlackEndpoint:
    """POST /slack/events (see the module)."""

    def __init__(
        self,
        *,
        bolt_app: App,
        intake: Intake,
        identity: Identity,
        signing_secret: str,
        max_body_bytes: int,
        body_timeout: float,
        threads: int,
    ) -> None:
        self.bolt_app = bolt_app
        self.intake = intake
        self.identity = identity
        self.signing_secret = signing_secret
        self.max_body_bytes = max_body_bytes
        self.body_timeout = body_timeout
        # Listeners Slack waits for, and requests already answered, on pools of their own:
        # however many answered requests wait for their turn, the next answer finds a thread.
        self._answers = ThreadPoolExecutor(threads, thread_name_prefix="answer")
        self._processing = ThreadPoolExecutor(threads, thread_name_prefix="processing")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            with ANSWERING.answering():
                answer = await self._answer(scope, receive)
        except Exception:  # a bug: logged once, and Slack gets a plain 500
            log.exception("answering a request from Slack failed")
            answer = Answer(500, b"internal error", {"content-type": "text/plain; charset=utf-8"})
        headers = [(b"content-length", str(len(answer.body)).encode())]
        headers += [(k.lower().encode(), v.encode()) for k, v in answer.headers.items()]
        await send({"type": "http.response.start", "status": answer.status, "headers": headers})
        await send({"type": "http.response.body", "body": answer.body})
        if answer.after is not None:
            try:
                await answer.after()
            except Exception:  # a bug: what was kept is processed by the sweep
                log.exception("processing a request answered already failed")

    async def _in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._answers, contextvars.Context().run, fn, *args)

    async def _answer(self, scope: Scope, receive: Receive) -> Answer:
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        try:
            body = await read_body(
                receive,
                headers.get("content-length"),
                limit=self.max_body_bytes,
                timeout=self.body_timeout,
            )
            verify(self.signing_secret, body, headers)
            parsed = parse(body, headers.get("content-type", ""))
            if parsed.kind is not None:
                why = self.identity.refuses(team_id=parsed.team_id, app_id=parsed.app_id)
                if why is not None:
                    raise Refused(403, f"not for this app: {why}")
        except Refused as refused:
            client = scope.get("client")
            host = client[0] if client else "?"
            log.warning("refused a request from %s: %s %s", host, refused.status, refused.reason)
            return _refusal(refused)
        if parsed.kind is None:  # url_verification, ssl_check: nothing to keep
            return _from_bolt(
                await self._in_thread(
                    self.bolt_app.dispatch, bolt_request_of(parsed.data, parsed.content_type)
                )
            )
        key = inbox.key_for(event_id=parsed.event_id, body=body)
        kept = Kept(parsed.kind, key, "http", parsed.content_type, parsed.text)
        try:
            if answered_at_once(parsed.kind, parsed.data):
                try:
                    return await self._keep_and_answer(kept, parsed.data)
                except SQLAlchemyError:
                    if parsed.kind == "events_api":
                        raise
                    # Someone waits on this one: its listener tries once more to keep it, and
                    # tells them if it cannot (handlers/errors.py), before Slack's answer.
            # (parsed once: a form submission is a whole view, URL-encoded)
            bolt_request = bolt_request_of(parsed.data, parsed.content_type)
            person = person_of(parsed.kind, parsed.data)
            return _from_bolt(await self._in_thread(self.intake.accept, kept, bolt_request, person))
        except SQLAlchemyError as exc:  # not kept: Slack must not think it was
            log.error("could not keep a %s request: %s", parsed.kind, exc.__class__.__name__)
            return Answer(503, b"try again", {"content-type": "text/plain; charset=utf-8"})

    async def _keep_and_answer(self, kept: Kept, data: dict[str, Any]) -> Answer:
        """Keep the request, answer 200 at once, and process it after (here or in the worker).

        On SQLite over HTTP it is kept in this process's journal (web/journal.py), and moved
        into the inbox once answered; otherwise it is kept in the inbox before the answer."""
        person = person_of(kept.kind, data)
        journal = self.intake.journal
        if journal is not None and journal.write(kept):  # (if not, kept in the inbox)
            return Answer(after=lambda: self._move(kept, person))
        handoff = self._handoff()
        row_id = await self.intake.store_async(kept, handoff.owner if handoff else None)
        if row_id is None:
            return Answer()  # a retry of a request we have
        return Answer(after=lambda: self._process(row_id, kept, person, handoff))

    def _handoff(self) -> Handoff | None:
        """The processing worker (web/handoff.py), if one is ready."""
        handoff = self.intake.handoff
        return handoff if handoff is not None and handoff.alive else None

    async def _move(self, kept: Kept, person: str | None) -> None:
        """Move a request answered from the journal into the inbox, then process it."""
        journal = self.intake.journal
        assert journal is not None
        handoff = self._handoff()
        if handoff is not None and handoff.give(kept, person):
            return  # the worker moves it, then processes it: no write here (web/handoff.py)
        row_id = None
        with journal.moving(kept):  # (if the move fails, the sweep moves it)
            row_id = await self.intake.store_async(kept, handoff.owner if handoff else None)
        if row_id is not None:  # (None: a retry of a request we have, or not moved yet)
            await self._process(row_id, kept, person, handoff)

    async def _process(
        self, row_id: int, kept: Kept, person: str | None, handoff: Handoff | None
    ) -> None:
        """Have a request kept and answered processed, in the order each person sent theirs:
        by the worker (if it died meanwhile, the sweep has it), or on a thread of this one."""
        if handoff is not None:
            handoff.send(row_id, kept.content_type, kept.body, person)
            return
        intake = self.intake
        work: Work = intake.line_up(intake.work_of(row_id), person)
        # (Bolt's request, which parses the body again, is built there, not before the answer)
        self._processing.submit(
            contextvars.Context().run,
            lambda: intake.process_answered(work, bolt_request_of(kept.body, kept.content_type)),
        )

    def drain(self) -> None:
        """Stop taking requests' work and finish what was given (at shutdown)."""
        self._answers.shutdown(wait=True)
        self._processing.shutdown(wait=True)


class SlackFirst:
    """The ASGI application: POST /slack/events to `endpoint`, the rest to `app`."""

    def __init__(self, app: Any, endpoint: SlackEndpoint | None) -> None:
        self.app = app
        self.endpoint = endpoint

    @property
    def routes(self) -> Any:
        return self.app.routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.endpoint
        if (
            endpoint is not None
            and scope["type"] == "http"
            and scope["path"] == PATH
            and scope["method"] == "POST"
        ):
            await endpoint(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    def drain(self) -> None:
        if self.endpoint is not None:
            self.endpoint.drain()
