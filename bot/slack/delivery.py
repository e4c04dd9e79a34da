"""The delivery engine's runner, and sending an item as one Slack message, once.

The database side (claims, keys, the failure rules) is `bot.core.delivery`. A `Runner` ticks
one source on one replica: it claims due rows, prepares each, hands the job to the source's
send function (`Send`: one side effect, answered with a `Receipt` or a `Failure`) and records
the outcome. `SlackPost` is the send function of every source whose items are Slack messages:
`compose` turns an item into a `Message` (to a channel, or directly to a user), `key_of`
reads an item's key back from a posted message. It posts with a client that never retries on
its own (a silent retry of a post that did arrive would post twice), looks for the key in the
channel's recent history before re-sending an item whose earlier attempt may have arrived,
and `classify` is the one function that sorts Slack's answers: ok, retry, or give up.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import Block
from slack_sdk.web import SlackResponse

from bot.core import delivery
from bot.core.delivery import Claimed, Delivered, Failure, Job, Receipt, Source
from storage import Database
from storage.types import utcnow

log = logging.getLogger(__name__)

Item = TypeVar("Item")

CLAIM_BATCH = 100
HISTORY_SLACK = timedelta(seconds=5)  # look a little before the first attempt

# Slack's error codes (HTTP 200, "ok": false) that are not about the item itself.
REFUSED_FOR_NOW = frozenset(
    {"ratelimited", "rate_limited", "service_unavailable", "request_timeout"}
)
OUTCOME_UNKNOWN = frozenset({"internal_error", "fatal_error"})  # "some aspect may have succeeded"
WORKSPACE_TROUBLE = frozenset(
    {
        "not_authed",
        "invalid_auth",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "no_permission",
        "missing_scope",
        "not_allowed_token_type",
        "org_login_required",
        "ekm_access_denied",
        "team_access_not_granted",
        "accesslimited",
    }
)


def replica_id() -> str:
    """A name for this process that is unique among replicas: host, pid and a random tag."""
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Outcome(StrEnum):
    """What happened to one claimed item."""

    SENT = "sent"
    FOUND = "found"  # an earlier attempt was found at the destination: recorded, not re-sent
    SKIPPED = "skipped"  # no longer due (an update, a snooze, done) or the lease was lost
    FAILED = "failed"  # kept, to be retried after a back-off
    GAVE_UP = "gave_up"  # a permanent refusal: not retried until the source plans it again


# A source's send function: one job, the clock, and `renew` (call it right before a re-send
# that follows a look-up; False: another replica has the row now). It returns the delivery,
# the failure, or None when the lease was lost before anything was sent.
Send = Callable[[Job[Item], Callable[[], datetime], Callable[[], bool]], Receipt | Failure | None]


@dataclass(frozen=True)
class Message:
    """One Slack message: to a channel, or directly to a user."""

    text: str
    blocks: Sequence[Block]
    channel: str | None = None
    user: str | None = None
    # Posted under another name and icon (chat:write.customize): a drill's simulated people.
    username: str | None = None
    icon_emoji: str | None = None


def delivery_client(slack: WebClient, *, lease: timedelta) -> WebClient:
    """A client like `slack` (its class, and its metrics if it counts calls) whose calls end
    well within the lease, with no silent retries."""
    client = type(slack)(
        token=slack.token,
        base_url=slack.base_url,
        timeout=max(1, min(10, int(lease.total_seconds() / 3))),
        retry_handlers=[],
    )
    if hasattr(slack, "metrics"):  # web.observability.InstrumentedWebClient
        client.metrics = slack.metrics  # type: ignore[attr-defined]
    return client


def _retry_after(headers: Any) -> float | None:
    value = headers.get("Retry-After") or headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def classify(answer: SlackResponse | Exception, *, requested: bool) -> Failure | None:
    """Slack's answer to one call: None when it is ok, else a `Failure` under the failure
    rules of `bot.core.delivery` (transient: retried; permanent: given up).

    `requested`: the call was the one that delivers (the post), so an answer that does not
    say may mean it arrived. Any other call (opening a DM, a look-up) delivers nothing. An
    exception other than `SlackApiError` got no answer at all (a timeout, a lost connection).
    """
    if isinstance(answer, SlackApiError):
        answer = answer.response
    if not isinstance(answer, SlackResponse):
        maybe = Delivered.MAYBE if requested else Delivered.NO
        return Failure(f"{type(answer).__name__}: {answer}", maybe)
    status, data = answer.status_code, answer.data
    if status == 200 and isinstance(data, dict) and data.get("ok"):
        return None
    code = str(data.get("error") or "") if isinstance(data, dict) else ""
    http = f"HTTP {status}" if status != 200 else ""
    described = "Slack answered " + " ".join(x for x in (http, code and f"`{code}`") if x)
    unknown = status >= 500 or code in OUTCOME_UNKNOWN
    transient = unknown or status in (408, 429) or code in REFUSED_FOR_NOW | WORKSPACE_TROUBLE
    return Failure(
        described,
        Delivered.MAYBE if requested and unknown else Delivered.NO,
        permanent=not transient,
        retry_after=_retry_after(answer.headers),
    )


@dataclass(eq=False)
class Runner(Generic[Item]):
    """Sends one source's claimed items for one replica (one owner of leases)."""

    db: Database
    source: Source[Any, Item, Any]
    deliver: Send[Item]
    _: KW_ONLY
    owner: str
    clock: Callable[[], datetime] = utcnow
    threads: int = 1  # items sent at once (a batch waits for Slack's answers in parallel)
    # Told (channel, outcome) of each claimed item (the /metrics deliveries counter).
    observe: Callable[[str, str], None] | None = None

    def claim(self, limit: int = CLAIM_BATCH) -> list[Claimed]:
        """Lease due items to this replica."""
        with self.db.session() as session:
            return delivery.claim(
                session, self.source, owner=self.owner, now=self.clock(), limit=limit
            )

    def tick(self) -> Counter[str]:
        """Send every due item; returns what happened to each (and logs it)."""
        outcomes = self.drain()
        if outcomes:
            log.info("%s: %s", self.source.name, dict(outcomes))
        return outcomes

    def drain(self) -> Counter[str]:
        """Send every due item, a batch at a time; returns what happened to each."""
        outcomes: Counter[str] = Counter()
        while True:
            claimed = self.claim()
            if len(claimed) > 1 and self.threads > 1:
                workers = min(self.threads, len(claimed))
                with ThreadPoolExecutor(workers, thread_name_prefix=self.source.name) as pool:
                    outcomes.update(pool.map(self.send, claimed))
            else:
                outcomes.update(map(self.send, claimed))
            if len(claimed) < CLAIM_BATCH:
                return outcomes

    def safe_tick(self) -> None:
        """The scheduled job: a failing tick (database down) is logged and tried again."""
        try:
            self.tick()
        except Exception:
            log.exception("%s tick failed; the next tick tries again", self.source.name)

    def send(self, claimed: Claimed) -> Outcome:
        """Check, send and record one claimed item."""
        channel = [self.source.name]
        outcome = self._send(claimed, channel)
        if self.observe is not None:
            try:
                self.observe(channel[0], outcome.value)
            except Exception:  # counting must never stop a delivery
                log.exception("%s: the delivery observer failed", self.source.name)
        return outcome

    def _send(self, claimed: Claimed, channel: list[str]) -> Outcome:
        with self.db.session() as session:
            job = delivery.prepare(
                session, self.source, claimed, owner=self.owner, now=self.clock()
            )
        if job is None:
            return Outcome.SKIPPED
        channel[0] = self.source.channel(job.item)
        try:
            result = self.deliver(job, self.clock, lambda: self._renew(job))
        except Exception as exc:  # a send function's own bug: it may have sent, or not
            log.exception("%s %s: the send function failed", self.source.name, job.row_id)
            result = Failure(f"{type(exc).__name__}: {exc}", Delivered.MAYBE)
        if result is None:
            return Outcome.SKIPPED
        if isinstance(result, Failure):
            return self._failed(job, result)
        with self.db.session() as session:
            delivery.record_sent(
                session, self.source, job, result, owner=self.owner, now=self.clock()
            )
        return Outcome.FOUND if result.found else Outcome.SENT

    def _renew(self, job: Job[Item]) -> bool:
        with self.db.session() as session:
            return delivery.renew(session, self.source, job, owner=self.owner, now=self.clock())

    def _failed(self, job: Job[Item], failure: Failure) -> Outcome:
        then = "given up" if failure.permanent else "it will be retried"
        log.warning(
            "%s %s not sent (%s); %s", self.source.name, job.attempt.key, failure.error, then
        )
        with self.db.session() as session:
            delivery.record_failure(
                session, self.source, job, failure, owner=self.owner, now=self.clock()
            )
        return Outcome.GAVE_UP if failure.permanent else Outcome.FAILED


@dataclass(frozen=True)
class SlackPost(Generic[Item]):
    """The send function of a source whose items are Slack messages."""

    slack: WebClient  # see `delivery_client`
    compose: Callable[[Item, datetime], Message]
    key_of: Callable[[dict[str, Any]], str | None]  # the item key a posted message carries
    history_pages: int = 5  # pages of 200 messages searched for an earlier attempt

    def __call__(
        self, job: Job[Item], clock: Callable[[], datetime], renew: Callable[[], bool]
    ) -> Receipt | Failure | None:
        """Post the job's message once: look for an earlier attempt first when there was one."""
        requested = False
        try:
            message = self.compose(job.item, clock())
            channel = message.channel or self._open(message.user)
            if job.attempt.check_first:
                found = self._find(channel, job)
                if found is not None:
                    posted_at = datetime.fromtimestamp(float(found), UTC)
                    return Receipt(posted_at, channel, found, found=True)
                if not renew():
                    return None
            requested = True
            response = self.slack.chat_postMessage(
                channel=channel,
                text=message.text,
                blocks=message.blocks,
                unfurl_links=False,
                username=message.username,  # None: the bot's own (the SDK drops None)
                icon_emoji=message.icon_emoji,
            )
            failure = classify(response, requested=True)  # (a client that does not raise)
        except Exception as exc:
            failure = classify(exc, requested=requested)
        if failure is not None:
            return failure
        ts = response.get("ts")
        channel = str(response.get("channel") or channel)
        return Receipt(clock(), channel, str(ts) if ts else None)

    def _open(self, user: str | None) -> str:
        """The direct-message channel with `user`."""
        assert user is not None, "a message goes to a channel or to a user"
        return str(self.slack.conversations_open(users=user)["channel"]["id"])

    def _find(self, channel: str, job: Job[Item]) -> str | None:
        """The ts of an earlier attempt of this item in `channel`, if it got there."""
        oldest = (job.attempt.pending_since - HISTORY_SLACK).timestamp()
        cursor: str | None = None
        for _ in range(self.history_pages):
            kwargs: dict[str, Any] = {"channel": channel, "oldest": f"{oldest:.6f}", "limit": 200}
            if cursor:
                kwargs["cursor"] = cursor
            page = self.slack.conversations_history(**kwargs)
            for message in page.get("messages") or []:
                if self.key_of(message) == job.attempt.key:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                return None
        return None
