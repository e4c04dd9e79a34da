"""The Slack side of alerts: triage messages, automatic declarations, escalations.

One worker thread per replica keeps every alert group's message in ALERTS_CHANNEL (or its
rule's channel) showing the group's latest version: the webhook hands it the groups a
delivery changed, and every SCHEDULER_TICK_SECONDS it also picks up groups left behind (a
failed call, a restart) and claims due escalation levels, whose messages are notices
(bot.slack.paging). Work on one group is coalesced (a storm of repeats becomes one
chat.update) and leased in the database (one replica at a time). A first post records its
start before it is sent; if its answer is lost, the message is looked for in the channel
before anything is posted again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.errors import SlackApiError

from blocks import alerts as render
from bot.alerts import triage
from bot.alerts.intake import IntakeResult
from bot.alerts.rules import AlertRules
from bot.core.events import IncidentDeclared, IncidentEvent
from bot.slack import paging
from bot.slack.directory import MessageRef
from bot.slack.operations import declare_incident
from bot.slack.services import Services
from storage.models import Incident
from storage.types import utcnow

log = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
HISTORY_SLACK = timedelta(minutes=2)
ROUNDS = 3  # re-renders of one group in a row while it keeps changing
LOCK_STRIPES = 64
POST_INTERVAL = 1.05  # seconds between new messages in one channel (Slack: about 1 per second)


def _replica() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class AlertTriage:
    """Triage messages, automatic declarations and escalations of one replica."""

    def __init__(
        self,
        services: Services,
        rules: AlertRules,
        *,
        clock: Callable[[], datetime] = utcnow,
        sweep_seconds: float | None = None,
    ) -> None:
        self.services = services
        self.rules = rules
        self.clock = clock
        # As often as the reminder scheduler looks for due work (SCHEDULER_TICK_SECONDS).
        self.sweep_seconds = sweep_seconds or services.settings.scheduler_tick_seconds
        self.owner = _replica()
        self._pending: set[int] = set()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._channels: dict[str, str | None] = {}
        self._last_post: dict[str, float] = {}
        # One thread of this process at a time per group (the lease keeps other replicas out).
        self._locks = [threading.RLock() for _ in range(LOCK_STRIPES)]

    # --- The worker -----------------------------------------------------------------------

    def start(self) -> None:
        """Start the worker thread."""
        self._thread = threading.Thread(target=self._run, name="alert-triage", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop after the group in hand (the rest is picked up by the next start's sweep)."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def on_stored(self, result: IntakeResult) -> None:
        """The webhook stored a delivery: refresh the groups it changed (soon, not now)."""
        with self._wake:
            self._pending.update(result.groups)
            self._wake.notify()

    def on_event(self, event: IncidentEvent) -> None:
        """A declaration from a triage message's form links the group to the incident."""
        if not isinstance(event, IncidentDeclared):
            return
        with self.services.db.session() as session:
            incident = session.get(Incident, event.incident_id)
            if incident is None or not incident.origin_channel_id or not incident.origin_message_ts:
                return
            group_id = triage.for_message(
                session, channel=incident.origin_channel_id, ts=incident.origin_message_ts
            )
            if group_id is None:
                return
            triage.link(
                session,
                group_id=group_id,
                incident_id=event.incident_id,
                user=event.actor,
                now=self.clock(),
                declared=True,
            )
        self.refresh(group_id)

    def _run(self) -> None:
        next_sweep = 0.0
        while True:
            with self._wake:
                while not self._pending and not self._stopping:
                    remaining = next_sweep - time.monotonic()
                    if remaining <= 0:
                        break
                    self._wake.wait(remaining)
                if self._stopping:
                    return
                batch = sorted(self._pending)
                self._pending.clear()
            for group_id in batch:
                self._safely(self.refresh, group_id)
            if time.monotonic() >= next_sweep:
                self._safely(self.sweep)
                next_sweep = time.monotonic() + self.sweep_seconds

    @staticmethod
    def _safely(work: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        try:
            work(*args, **kwargs)
        except SlackApiError as exc:  # rate limited past the client's retries, or refused
            log.warning("Slack said %s; the next sweep tries again", exc.response.get("error"))
        except Exception:
            log.exception("alert triage work failed; the next sweep tries again")

    def sweep(self) -> None:
        """Refresh the groups left behind, then deliver the escalation levels now due."""
        with self.services.db.read() as session:
            behind = triage.behind(session)
        for group_id in behind:
            self._safely(self.refresh, group_id)
        self.escalate()

    # --- One group's message ------------------------------------------------------------------

    def _channel_id(self, wanted: str) -> str | None:
        if not wanted.startswith("#"):
            return wanted
        if wanted not in self._channels:
            found = None
            for page in self.services.slack.conversations_list(
                types="public_channel,private_channel", exclude_archived=True, limit=200
            ):
                for channel in page.get("channels", []):
                    if channel.get("name") == wanted[1:]:
                        found = str(channel["id"])
            if found is None:
                log.warning("alert channel %s not found; its triage messages wait", wanted)
                return None
            self._channels[wanted] = found
        return self._channels[wanted]

    def refresh(self, group_id: int) -> None:
        """Make the group's message show its latest version (post it the first time)."""
        with self._locks[group_id % LOCK_STRIPES]:
            self._refresh(group_id)

    def _refresh(self, group_id: int) -> None:
        now = self.clock()
        with self.services.db.session() as session:
            if not triage.lease(
                session, group_id=group_id, owner=self.owner, now=now, until=now + LEASE
            ):
                return  # another replica has it; it renders the latest version before letting go
        try:
            for _ in range(ROUNDS):
                if not self._render(group_id):
                    break
            self._auto_declare(group_id)
            self._tell_resolved(group_id)
        finally:
            with self.services.db.session() as session:
                triage.release(session, group_id=group_id, owner=self.owner)

    def _render(self, group_id: int) -> bool:
        """Post or update once; True when it did (the group may have changed meanwhile)."""
        with self.services.db.read() as session:
            v = triage.view(session, group_id)
        g = v.group
        if g.posted_version >= g.version:
            return False
        wanted = g.channel or self.services.settings.alerts_channel
        never_fired = g.status == "resolved" and g.resolved_at == g.created_at
        if g.message_ts is None and (g.state == "ignored" or not wanted or never_fired):
            with self.services.db.session() as session:  # nothing to show: mark it shown
                triage.shown(session, group_id=group_id, version=g.version, channel=None, ts=None)
            return False
        text, blocks = render.triage_text(v), render.triage_blocks(v)
        if g.message_ts and g.message_channel:
            self.services.slack.chat_update(
                channel=g.message_channel, ts=g.message_ts, text=text, blocks=blocks
            )
            channel, ts = g.message_channel, g.message_ts
        else:
            channel_id = self._channel_id(str(wanted))
            if channel_id is None:
                return False
            found = self._find(channel_id, group_id, g.post_started_at)
            if found is not None:
                channel, ts = channel_id, found
                self.services.slack.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
            else:
                with self.services.db.session() as session:
                    triage.posting(session, group_id=group_id, now=self.clock())
                self._pace(channel_id)
                response = self.services.slack.chat_postMessage(
                    channel=channel_id, text=text, blocks=blocks, unfurl_links=False
                )
                channel, ts = str(response["channel"]), str(response["ts"])
        with self.services.db.session() as session:
            triage.shown(session, group_id=group_id, version=g.version, channel=channel, ts=ts)
        return True

    def _pace(self, channel: str) -> None:
        """At most one new message per second per channel, as Slack allows (no 429 needed)."""
        wait = self._last_post.get(channel, 0.0) + POST_INTERVAL - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self._last_post[channel] = time.monotonic()

    def _find(self, channel: str, group_id: int, started: datetime | None) -> str | None:
        """The ts of a first post whose answer was lost, if it reached the channel."""
        if started is None:
            return None
        oldest = (started - HISTORY_SLACK).timestamp()
        page = self.services.slack.conversations_history(
            channel=channel, oldest=f"{oldest:.6f}", limit=200
        )
        for message in page.get("messages") or []:
            if render.group_of(message) == group_id:
                return str(message["ts"])
        return None

    def _permalink(self, channel: str, ts: str) -> str:
        return self.services.directory.permalink(MessageRef(channel, ts)) or ""

    def _auto_declare(self, group_id: int) -> None:
        """A `declare` rule: the incident is declared once, managed by the on-call person."""
        with self.services.db.read() as session:
            v = triage.view(session, group_id)
        g = v.group
        if g.action != "declare" or g.state != "new" or g.status != "firing" or g.incident_id:
            return
        rule = next((r for r in self.rules.rules if r.name == g.rule), None)
        schedule = self.rules.manager_schedule(rule) if rule else None
        now = self.clock()
        manager = self.rules.schedules[schedule].on_call(now) if schedule else None
        declared_by = manager or self.services.directory.bot_user_id()

        if declared_by is None:
            return
        permalink = (
            self._permalink(g.message_channel, g.message_ts)
            if g.message_channel and g.message_ts
            else ""
        )
        prefill = render.declare_prefill(v, permalink)
        incident, _created = declare_incident(  # publishes IncidentDeclared
            self.services,
            title=prefill["title"],
            severity=g.declare_severity,
            summary=prefill["summary"],
            declared_by=declared_by,
            declare_key=f"alert-group:{group_id}",
            manager=manager,
            origin_channel_id=g.message_channel,
            origin_message_ts=g.message_ts,
            origin_permalink=permalink or None,
        )
        with self.services.db.session() as session:
            triage.link(
                session,
                group_id=group_id,
                incident_id=incident.id or 0,
                user=declared_by,
                now=now,
                declared=True,
            )
        self._render(group_id)

    def _tell_resolved(self, group_id: int) -> None:
        with self.services.db.session() as session:
            channel = triage.to_tell_resolved(session, group_id=group_id, now=self.clock())
        if channel is None:
            return
        with self.services.db.read() as session:
            v = triage.view(session, group_id)
        self.services.slack.chat_postMessage(channel=channel, text=render.resolved_notice(v))

    # --- Escalation ---------------------------------------------------------------------------

    def escalate(self) -> None:
        """Claim every escalation level due now and, in the same transaction, plan what it
        sends as notices (bot.slack.paging): a reply under the group's message, a DM to each
        person, an SMS for `sms: true` levels; then the levels of incidents whose manager has
        not acknowledged. The notice engine sends each once, even across a crash."""
        if not self.rules.policies:
            return
        now = self.clock()
        sent = utcnow()  # the notice engine's time: what a level sends is due at once
        with self.services.db.session() as session:
            group_levels = paging.escalate_groups(
                session, rules=self.rules, now=now, planned_at=sent
            )
            incident_levels = paging.escalate_incidents(
                session, rules=self.rules, now=now, planned_at=sent
            )
        if (group_levels or incident_levels) and self.services.notices is not None:
            self.services.notices.wake()
