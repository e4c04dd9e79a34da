"""Storing what a sender delivered: deduplicate, group, resolve, and apply the rules.

`ingest` runs in the caller's transaction and returns what changed; `store` is the one call
the web hooks make: one transaction, tried again when a concurrent delivery of the same
group or alert won a unique constraint (the retry then finds its row and updates it).

- An alert is the same alert while it fires: a repeat updates its row (repeat_count) and
  posts nothing new. A resolve closes it. The same fingerprint firing again after it
  resolved is a new alert, unless it started before the resolve (a late delivery: stale).
- A group is what the sender grouped (Alertmanager's groupKey, a PagerDuty incident ...).
  It is open while any of its alerts fires; it resolves with its last alert. When a group
  opens, ALERT_RULES_FILE's first matching rule decides its action, channel and policy.
- A delivery id (PagerDuty's X-Webhook-Id) is recorded: a retry or replay changes nothing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Session, col, func, select

from bot.alerts.model import AlertIn, AlertState, Batch, incident_severity
from bot.alerts.rules import EMPTY, AlertRules
from storage import Database
from storage.models_alerts import Alert, AlertDelivery, AlertGroup
from storage.types import utcnow

log = logging.getLogger(__name__)
STORE_ATTEMPTS = 5
GROUP_LOCK_SPACE = 0x1C1D_0A1E  # first key of the two-key advisory lock of alert groups
RETRY_SQLSTATES = {"40001", "40P01"}  # serialization failure, deadlock: try again
LOOKUP_CHUNK = 500  # fingerprints per IN (...) list
SEVERITY_RANK = {"sev1": 1, "sev2": 2, "sev3": 3, "sev4": 4}


@dataclass(frozen=True)
class IntakeResult:
    """What one delivery changed."""

    source: str
    groups: tuple[int, ...] = ()  # groups whose triage message needs refreshing
    opened: tuple[int, ...] = ()  # groups this delivery opened
    new: int = 0
    repeated: int = 0
    resolved: int = 0
    stale: int = 0  # firing deliveries older than the resolve already recorded
    duplicate: int = 0  # resolves already recorded
    replay: bool = False  # the delivery id was seen before: nothing changed
    ignored: str | None = None

    def as_json(self) -> dict[str, object]:
        """The answer the sender gets."""
        if self.ignored:
            return {"status": "ignored", "reason": self.ignored}
        if self.replay:
            return {"status": "duplicate delivery"}
        return {
            "status": "stored",
            "groups": list(self.groups),
            "new": self.new,
            "repeated": self.repeated,
            "resolved": self.resolved,
            "stale": self.stale,
            "duplicate": self.duplicate,
        }


def _open_key(source: str, key: str) -> str:
    return f"{source}:{key}"


def _lock_open_group(session: Session, source: str, group_key: str) -> AlertGroup | None:
    """The open group of this key, with every other delivery of the key waiting for us.

    On PostgreSQL a transaction-scoped advisory lock on the key serialises deliveries of one
    group whether or not its row exists yet (SQLite serialises every writer already), so two
    copies of a delivery never both open the group or both add an alert.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        connection.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
            {"space": GROUP_LOCK_SPACE, "key": _open_key(source, group_key)},
        )
    statement = (
        select(AlertGroup)
        .where(AlertGroup.open_key == _open_key(source, group_key))
        .with_for_update()
    )
    return session.exec(statement).first()


def _new_group(
    session: Session, batch: Batch, first: AlertIn, rules: AlertRules, now: datetime
) -> AlertGroup:
    rule = rules.decide(batch.source.value, first)
    firing = any(alert.state is AlertState.FIRING for alert in batch.alerts)
    group = AlertGroup(
        source=batch.source.value,
        group_key=batch.group_key,
        open_key=_open_key(batch.source.value, batch.group_key) if firing else None,
        title=batch.title or first.title,
        severity=first.severity,
        labels=dict(batch.labels),
        status="firing" if firing else "resolved",
        first_alert_at=first.starts_at or now,
        last_alert_at=now,
        created_at=now,
        resolved_at=None if firing else now,
    )
    if rule is not None:
        group.rule = rule.name
        group.action = rule.action
        group.declare_severity = rule.declare.value if rule.declare else None
        group.channel = rule.channel
        group.policy = rule.policy
        if rule.ignore:
            group.state = "ignored"
        policy = rules.policies.get(rule.policy or "")
        if policy is not None and firing and not rule.ignore:
            group.escalation_due_at = policy.next_due(now, 0)
    session.add(group)
    session.flush()
    return group


def _existing(
    session: Session, source: str, fingerprints: list[str]
) -> tuple[dict[str, Alert], dict[str, Alert]]:
    """The open row of each fingerprint, and the latest closed row of the others.

    Two queries per delivery, however many alerts it carries (Alertmanager sends the whole
    group every time).
    """
    open_rows: dict[str, Alert] = {}
    latest: dict[str, Alert] = {}
    for start in range(0, len(fingerprints), LOOKUP_CHUNK):
        chunk = fingerprints[start : start + LOOKUP_CHUNK]
        keys = [_open_key(source, fingerprint) for fingerprint in chunk]
        for row in session.exec(select(Alert).where(col(Alert.open_key).in_(keys))).all():
            open_rows[row.fingerprint] = row
        closed = [fingerprint for fingerprint in chunk if fingerprint not in open_rows]
        if not closed:
            continue
        newest = (
            select(func.max(Alert.id))
            .where(Alert.source == source, col(Alert.fingerprint).in_(closed))
            .group_by(col(Alert.fingerprint))
        )
        for row in session.exec(select(Alert).where(col(Alert.id).in_(newest))).all():
            latest[row.fingerprint] = row
    return open_rows, latest


def _describe(row: Alert, alert: AlertIn, now: datetime) -> None:
    row.title = alert.title or row.title
    row.severity = alert.severity or row.severity
    row.description = alert.description or row.description
    row.labels = dict(alert.labels) or row.labels
    row.annotations = dict(alert.annotations) or row.annotations
    row.links = {**row.links, **alert.links}
    row.last_received_at = now
    if alert.acknowledged_by:
        row.acknowledged_by = alert.acknowledged_by


def _new_alert(group: AlertGroup, source: str, alert: AlertIn, now: datetime) -> Alert:
    firing = alert.state is AlertState.FIRING
    row = Alert(
        group_id=group.id or 0,
        source=source,
        fingerprint=alert.fingerprint,
        open_key=_open_key(source, alert.fingerprint) if firing else None,
        status=alert.state.value,
        title=alert.title,
        starts_at=alert.starts_at,
        ends_at=alert.ends_at,
        received_at=now,
        resolved_at=None if firing else now,
    )
    _describe(row, alert, now)
    return row


def _close_left_out(session: Session, group: AlertGroup, source: str, now: datetime) -> int:
    """Close the group's alerts the sender left out of a delivery that resolves the group."""
    rows = session.exec(
        select(Alert).where(Alert.group_id == group.id, col(Alert.open_key).is_not(None))
    ).all()
    for row in rows:
        row.status, row.open_key, row.resolved_at, row.ends_at = "resolved", None, now, now
        session.add(row)
    return len(rows)


def _recount(session: Session, group: AlertGroup, now: datetime) -> None:
    rows = session.exec(
        select(Alert.status, Alert.severity, func.min(Alert.starts_at), func.count())
        .where(Alert.group_id == group.id)
        .group_by(col(Alert.status), col(Alert.severity))
    ).all()
    group.alert_count = sum(count for *_, count in rows)
    group.firing_count = sum(count for status, _, _, count in rows if status == "firing")
    starts = [started for _, _, started, _ in rows if started is not None]
    if starts:
        group.first_alert_at = min([*starts, group.first_alert_at])
    firing = [sev for status, sev, _, _ in rows if status == "firing" and sev]
    if firing:
        group.severity = min(firing, key=_rank)
    if group.firing_count == 0 and group.status == "firing":
        group.status, group.open_key, group.resolved_at = "resolved", None, now
        group.escalation_due_at = None


def _rank(severity: str) -> int:
    mapped = incident_severity(severity)
    return SEVERITY_RANK[mapped.value] if mapped else 5


def ingest(
    session: Session, batch: Batch, *, rules: AlertRules = EMPTY, now: datetime | None = None
) -> IntakeResult:
    """Store one delivery in the session's transaction; see the module's docstring."""
    now = now or utcnow()
    source = batch.source.value
    if batch.delivery_id:
        seen = session.exec(
            select(AlertDelivery.id).where(
                AlertDelivery.source == source, AlertDelivery.delivery_id == batch.delivery_id
            )
        ).first()
        if seen is not None:
            return IntakeResult(source, replay=True)
        session.add(AlertDelivery(source=source, delivery_id=batch.delivery_id, received_at=now))
        session.flush()
    if batch.ignored or not batch.alerts:
        return IntakeResult(source, ignored=batch.ignored or "no alerts")
    group = _lock_open_group(session, source, batch.group_key)
    opened: list[int] = []
    touched: dict[int, AlertGroup] = {}
    new = repeated = resolved = stale = duplicate = 0
    # One entry per fingerprint (the last wins when a delivery repeats one).
    unique = list({alert.fingerprint: alert for alert in batch.alerts}.values())
    open_rows, latest_rows = _existing(session, source, [a.fingerprint for a in unique])
    for alert in unique:
        open_row = open_rows.get(alert.fingerprint)
        if open_row is not None:
            owner = session.get(AlertGroup, open_row.group_id)
            assert owner is not None
            touched[owner.id or 0] = owner
            _describe(open_row, alert, now)
            if alert.state is AlertState.RESOLVED:
                open_row.status, open_row.open_key = "resolved", None
                open_row.resolved_at = now
                open_row.ends_at = alert.ends_at or now
                resolved += 1
            else:
                open_row.repeat_count += 1
                repeated += 1
            session.add(open_row)
            continue
        latest = latest_rows.get(alert.fingerprint)
        if latest is not None and alert.state is AlertState.RESOLVED:
            duplicate += 1  # the resolve is already recorded
            continue
        if (
            latest is not None
            and alert.starts_at is not None
            and alert.starts_at <= (latest.ends_at or latest.resolved_at or now)
        ):
            stale += 1  # a late delivery of a firing that has resolved since
            continue
        if group is None:
            # Firing if any alert of the delivery fires (then it opens), else closed at once.
            group = _new_group(session, batch, alert, rules, now)
            opened.append(group.id or 0)
        touched[group.id or 0] = group
        session.add(_new_alert(group, source, alert, now))
        if alert.state is AlertState.FIRING:
            new += 1
        else:
            resolved += 1
    if batch.all_resolved and group is not None and group.status == "firing":
        resolved += _close_left_out(session, group, source, now)
        touched[group.id or 0] = group
    session.flush()
    for touched_group in touched.values():
        if touched_group.id == (group.id if group else None):
            touched_group.title = batch.title or touched_group.title
            touched_group.labels = dict(batch.labels) or touched_group.labels
        for alert in batch.alerts:
            if alert.acknowledged_by and touched_group.acknowledged_at is None:
                touched_group.acknowledged_by = f"{alert.acknowledged_by} (in {source})"
                touched_group.acknowledged_at = now
                touched_group.escalation_due_at = None
                if touched_group.state == "new":
                    touched_group.state = "acknowledged"
        touched_group.last_alert_at = now
        _recount(session, touched_group, now)
        touched_group.version += 1
        session.add(touched_group)
    return IntakeResult(
        source,
        groups=tuple(sorted(touched)),
        opened=tuple(opened),
        new=new,
        repeated=repeated,
        resolved=resolved,
        stale=stale,
        duplicate=duplicate,
    )


def store(
    db: Database, batch: Batch, *, rules: AlertRules = EMPTY, now: datetime | None = None
) -> IntakeResult:
    """`ingest` in a transaction of its own, retried when a concurrent delivery won a race."""
    for attempt in range(STORE_ATTEMPTS):
        try:
            with db.session() as session:
                return ingest(session, batch, rules=rules, now=now)
        except (IntegrityError, OperationalError) as exc:
            retry = isinstance(exc, IntegrityError) or (
                getattr(exc.orig, "sqlstate", None) in RETRY_SQLSTATES
            )
            if not retry or attempt == STORE_ATTEMPTS - 1:
                raise
            log.info("concurrent delivery for %s %s; trying again", batch.source, batch.group_key)
    raise AssertionError("unreachable")
