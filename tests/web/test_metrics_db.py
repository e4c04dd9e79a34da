"""/metrics figures asked of the database: pending deliveries, alerts received, deliveries
counted by channel and outcome (parsed with prometheus_client's parser)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from bot.alerts.intake import store
from bot.alerts.parsers import parse_prometheus
from storage import Database
from storage.models import Incident
from storage.models_outbox import OutboxDelivery
from storage.models_reminders import Reminder
from storage.models_stakeholders import StakeholderNotice
from storage.types import utcnow
from tests.alert_fixtures import payload
from web.observability import Metrics

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _value(samples: dict[Any, float], name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def test_pending_deliveries_alerts_received_and_delivery_outcomes(db: Database) -> None:
    now = utcnow()
    with db.session() as session:
        incident = Incident(
            number=1,
            title="Checkout down",
            severity="sev1",
            declared_by="U1",
            declare_key="k1",
            declared_at=now,
        )
        session.add(incident)
        session.flush()
        assert incident.id is not None
        incident_id: int = incident.id

        def outbox(k: int, subscriber: str, *, pending: bool) -> OutboxDelivery:
            return OutboxDelivery(
                key=f"o{k}",
                incident_id=incident_id,
                subscriber=subscriber,
                event_kind="declared",
                event="{}",
                due_at=now if pending else None,
                delivered_at=None if pending else now,
            )

        def notice(k: int, channel: str, *, due: datetime | None) -> StakeholderNotice:
            return StakeholderNotice(
                key=f"n{k}",
                incident_id=incident_id,
                event="declared",
                trigger="declared",
                channel=channel,
                recipient="someone",
                due_at=due,
            )

        session.add_all(
            [
                outbox(1, "card", pending=True),
                outbox(2, "card", pending=True),  # e.g. a retry after a failure
                outbox(3, "card", pending=False),  # delivered: not pending
                outbox(4, "topic", pending=True),
                notice(1, "email", due=now + timedelta(minutes=5)),  # waiting for a retry
                notice(2, "sms", due=now),
                notice(3, "sms", due=None),  # sent or given up
                # Reminders are a schedule: only one already due is waiting.
                Reminder(incident_id=incident_id, kind="update", due_at=now - timedelta(1)),
                Reminder(incident_id=incident_id, kind="no_manager", due_at=now + timedelta(1)),
            ]
        )
    first = parse_prometheus(payload("alertmanager_firing"))
    store(db, first, now=T0)
    store(db, parse_prometheus(payload("alertmanager_firing")), now=T0)  # a repeat
    alerts = len(first.alerts)

    metrics = Metrics(db)
    metrics.count_delivery("outbox:card", "sent")
    metrics.count_delivery("outbox:card", "sent")
    metrics.count_delivery("email", "failed")
    samples = _samples(metrics)
    pending = "incident_bot_deliveries_pending"
    assert _value(samples, pending, channel="outbox:card") == 2
    assert _value(samples, pending, channel="outbox:topic") == 1
    assert _value(samples, pending, channel="email") == 1
    assert _value(samples, pending, channel="sms") == 1
    assert _value(samples, pending, channel="reminder") == 1
    assert _value(samples, pending, channel="follow-up reminder") == 0
    received = "incident_bot_alerts_received_total"
    assert _value(samples, received, source="alertmanager") == 2 * alerts
    deliveries = "incident_bot_deliveries_total"
    assert _value(samples, deliveries, channel="outbox:card", outcome="sent") == 2
    assert _value(samples, deliveries, channel="email", outcome="failed") == 1
    assert _value(samples, "incident_bot_open_incidents", sev="sev1") == 1
