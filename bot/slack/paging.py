"""Escalations delivered by the notice engine: the Slack sender and the claiming of levels.

`escalate_incidents` claims the due levels of incidents whose manager has not acknowledged
(bot.alerts.incident_escalation) and, in the same transaction, plans each level's deliveries
(bot.stakeholders.paging): so a level is claimed once, and what it sends is durable and sent
once. `escalate_groups` does the same for alert groups' levels (bot.alerts.triage): the
reply in the triage message's thread, the DMs and the SMS. `EscalationSender` posts the
escalation message (in the incident channel, in a triage message's thread, or by DM; an
incident's with Acknowledge) under the notice's key in the message metadata; an attempt
that may have got through is looked for first (in the thread for a thread reply).
"""

from __future__ import annotations

from datetime import datetime

from slack_sdk import WebClient
from sqlmodel import Session

from blocks import alerts
from blocks import paging as render
from bot.alerts import incident_escalation, triage
from bot.alerts.rules import AlertRules
from bot.alerts.triage import DueLevel, TriageView
from bot.core.sending import Retryable
from bot.slack import keyed
from bot.slack.directory import MessageRef, SlackDirectory
from bot.slack.notices import classify
from bot.stakeholders import paging
from bot.stakeholders.notice import Notice
from storage import Database
from storage.models import Incident
from storage.models_alerts import AlertGroup

HISTORY_LIMIT = 100


class EscalationSender:
    """Posts one escalation message: in the incident's channel, or as a DM."""

    def __init__(
        self,
        slack: WebClient,
        db: Database | None = None,
        directory: SlackDirectory | None = None,
    ) -> None:
        self.slack = slack
        self.db = db
        self.directory = directory or SlackDirectory(slack)

    def send(self, notice: Notice) -> str | None:
        """Post it (its ts back)."""
        text = str(notice.payload.get("text") or "")
        alert_channel, alert_ts = self._triage_message(notice)
        thread_ts: str | None = None
        if notice.recipient == paging.HERE:
            channel = notice.incident_channel_id
            if not channel:
                raise Retryable("the incident's channel is not set up yet")
        elif notice.recipient == paging.THREAD:
            if not alert_channel or not alert_ts:
                return None  # the group has no triage message to reply under
            channel, thread_ts = alert_channel, alert_ts
        else:
            channel = notice.recipient
            if alert_channel and alert_ts:  # a DM about an alert group: link its message
                link = self._permalink(alert_channel, alert_ts)
                text += f" <{alerts.url(link)}|Open the alert>" if link else ""
        incident_id = notice.incident_id
        blocks = render.escalation_blocks(text, incident_id=incident_id) if incident_id else None
        if notice.attempts > 0 or notice.outcome_unknown:
            found = self._find(channel, notice.key, thread_ts)
            if found is not None:
                return found
        try:
            answer = self.slack.chat_postMessage(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=thread_ts,
                metadata=keyed.metadata(notice.key),
                unfurl_links=False,
            )
        except Exception as exc:
            raise classify(exc, "could not post the escalation") from exc
        return str(answer["ts"])

    def _triage_message(self, notice: Notice) -> tuple[str, str]:
        """The alert group's triage message (channel, ts), if it has one: from the payload,
        else (claimed before it was posted) from the group; wait while it is being posted."""
        channel = str(notice.payload.get("alert_channel") or "")
        ts = str(notice.payload.get("alert_ts") or "")
        group_id = notice.payload.get("alert_group_id")
        if (channel and ts) or not group_id or self.db is None:
            return channel, ts
        with self.db.read() as session:
            group = session.get(AlertGroup, int(group_id))
        if group is None:
            return "", ""
        if group.message_channel and group.message_ts:
            return group.message_channel, group.message_ts
        if group.posted_version < group.version and notice.recipient == paging.THREAD:
            raise Retryable("the alert's triage message is not posted yet")
        return "", ""

    def _permalink(self, channel: str, ts: str) -> str:
        """A link to the triage message; none when Slack will not give one (as before)."""
        return self.directory.permalink(MessageRef(channel, ts)) or ""

    def _find(self, channel: str, key: str, thread_ts: str | None) -> str | None:
        try:
            return keyed.find_recent(
                self.slack, channel, key, limit=HISTORY_LIMIT, thread_ts=thread_ts
            )
        except Exception as exc:
            raise classify(exc, "could not look for the escalation") from exc


def escalate_incidents(
    session: Session, *, rules: AlertRules, now: datetime, planned_at: datetime
) -> list[incident_escalation.DueIncidentLevel]:
    """Claim the levels of unacknowledged incidents due at `now` and plan what each sends
    (due at `planned_at`, the notice engine's time)."""
    due = incident_escalation.claim_due(session, rules=rules, now=now)
    for level in due:
        incident = session.get(Incident, level.incident_id)
        if incident is None:
            continue
        text = render.incident_escalation_text(
            number=incident.number,
            title=incident.title,
            manager=level.manager,
            level=level.level,
            levels=level.levels,
            targets=level.targets,
        )
        head, body = render.incident_escalation_sms(
            number=incident.number, title=incident.title, level=level.level, levels=level.levels
        )
        paging.plan_level(
            session,
            incident_id=incident.id,
            ref=f"escalation:{level.level}",
            text=text,
            users=level.targets.users,
            in_channel=True,
            sms=level.sms,
            phones=rules.phones,
            sms_text=paging.sms_for(head, body),
            now=planned_at,
        )
    return due


def escalate_groups(
    session: Session, *, rules: AlertRules, now: datetime, planned_at: datetime
) -> list[DueLevel]:
    """Claim the levels of alert groups due at `now` (bot.alerts.triage; a group linked to a
    drill is not escalated) and plan what each sends (due at `planned_at`)."""
    due = triage.claim_due_levels(session, rules=rules, now=now)
    for level in due:
        view = triage.view(session, level.group_id)
        policy = rules.policies.get(view.group.policy or "")
        levels = len(policy.levels) if policy is not None else level.level + 1
        plan_group_level(
            session, rules=rules, level=level, view=view, levels=levels, now=planned_at
        )
    return due


def plan_group_level(
    session: Session,
    *,
    rules: AlertRules,
    level: DueLevel,
    view: TriageView,
    levels: int,
    now: datetime,
) -> int:
    """An alert group's level, claimed in this transaction: the reply under its triage message
    (looked up when sent if it was not posted yet), a DM to each of its people (linking the
    message) and, for a level with `sms: true`, a text to each of them with a phone number."""
    policy = rules.policies.get(view.group.policy or "")
    sms = policy is not None and policy.levels[level.level].sms
    g = view.group
    head = f"Alert not acknowledged (escalation {level.level + 1}/{levels}):"
    return paging.plan_level(
        session,
        incident_id=None,
        ref=f"alert-group:{level.group_id}:escalation:{level.level}",
        text=alerts.escalation_text(view, level.level, levels, level.targets),
        users=level.targets.users,
        in_channel=False,
        sms=sms,
        phones=rules.phones,
        sms_text=paging.sms_for(head, g.title),
        now=now,
        alert_group=level.group_id,
        thread=(g.message_channel, g.message_ts) if g.message_channel and g.message_ts else None,
    )
