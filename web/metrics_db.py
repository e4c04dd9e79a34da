"""The /metrics figures asked of the database at each scrape (web.observability)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from bot.core.vocabulary import Severity, Status
from storage import Database
from storage.models import Incident
from storage.models_alerts import Alert
from storage.models_outbox import OutboxDelivery
from storage.models_postmortems import FollowUpReminder
from storage.models_reminders import Reminder
from storage.models_stakeholders import StakeholderNotice
from storage.types import utcnow


class OpenIncidents(Collector):
    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "incident_bot_open_incidents", "Incidents not resolved, by severity", labels=["sev"]
        )
        with self.db.read() as session:
            counts = dict(
                session.execute(
                    select(col(Incident.severity), func.count())
                    .where(col(Incident.status) != Status.RESOLVED.value)
                    .group_by(col(Incident.severity))
                ).all()
            )
        for sev in Severity:
            gauge.add_metric([sev.value], int(counts.get(sev.value, 0)))
        yield gauge


class FromDatabase(Collector):
    """Pending deliveries and alerts received, counted in the database at each scrape."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        pending = GaugeMetricFamily(
            "incident_bot_deliveries_pending",
            "Deliveries waiting to go out (retries included), by channel",
            labels=["channel"],
        )
        received = CounterMetricFamily(
            "incident_bot_alerts_received",
            "Alert deliveries received from monitoring tools (first and repeats), by source",
            labels=["source"],
        )
        now = utcnow()
        with self.db.read() as session:
            waiting: Counter[str] = Counter()
            for subscriber, n in session.execute(
                select(col(OutboxDelivery.subscriber), func.count())
                .where(col(OutboxDelivery.due_at).is_not(None))
                .group_by(col(OutboxDelivery.subscriber))
            ).all():
                waiting[f"outbox:{subscriber}"] += n
            for channel, n in session.execute(
                select(col(StakeholderNotice.channel), func.count())
                .where(col(StakeholderNotice.due_at).is_not(None))
                .group_by(col(StakeholderNotice.channel))
            ).all():
                waiting[channel] += n
            for name, table in (("reminder", Reminder), ("follow-up reminder", FollowUpReminder)):
                waiting[name] += session.execute(
                    select(func.count()).where(col(table.due_at) <= now)
                ).scalar_one()
            alerts = session.execute(
                select(
                    col(Alert.source), func.count(), func.coalesce(func.sum(Alert.repeat_count), 0)
                ).group_by(col(Alert.source))
            ).all()
        for channel, n in sorted(waiting.items()):
            pending.add_metric([channel], int(n))
        yield pending
        for source, n, repeats in alerts:
            received.add_metric([source], int(n) + int(repeats))
        yield received
