"""The outbox of side effects on both databases: one delivery per event and subscriber, lanes
and the channel barrier, refreshes that skip to the newest, failures given up and retried,
setup state, replicas sharing rows, retention. Subscribers here record their calls (no Slack);
the clock is controllable."""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse
from sqlalchemy import update
from sqlmodel import Session, col, select

from bot import incidents, outbox
from bot.core import events as ev
from bot.core.delivery import Claimed, NotReady
from bot.core.errors import ConfigError
from bot.core.vocabulary import Status
from bot.settings import load_settings
from bot.slack.outbox import Outbox
from bot.slack.services import Services
from storage import Database
from storage.models import Incident
from storage.models_outbox import OutboxDelivery
from storage.types import utcnow

NOWHERE = "http://127.0.0.1:9/api/"
LEASE = timedelta(seconds=30)


def slack_error(code: str, status: int = 200) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data={"ok": False, "error": code},
        headers={},
        status_code=status,
    )
    return SlackApiError("failed", response)


class Clock:
    """Real time plus an offset the test moves forward (rows are written at real time)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += timedelta(seconds=seconds)


class Recorder:
    """Test subscribers: what each was called with; failures to raise on demand."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.calls: list[tuple[str, str, ev.Delivery]] = []
        self.failures: dict[str, list[Exception]] = {}
        self.lock = threading.Lock()

    def subscriber(self, name: str) -> Callable[[ev.Event, ev.Delivery], None]:
        def call(event: ev.Event, delivery: ev.Delivery) -> None:
            with self.lock:
                pending = self.failures.get(name)
                failure = pending.pop(0) if pending else None
            if failure is not None:
                raise failure
            if name == "channel":
                with self.db.session() as session:
                    session.execute(
                        update(Incident)
                        .where(col(Incident.id) == event.incident_id)
                        .values(channel_id=f"C{event.incident_id:08d}")
                    )
            with self.lock:
                self.calls.append((name, event.kind, delivery))

        return call

    def called(self, name: str | None = None) -> list[tuple[str, str]]:
        return [(n, kind) for n, kind, _ in self.calls if name is None or n == name]


def subscribe(bus: ev.EventBus, recorder: Recorder) -> None:
    """A small set of subscriptions shaped like the bot's own."""
    rec = recorder.subscriber
    bus.subscribe(
        "channel",
        rec("channel"),
        ev.IncidentDeclared,
        lane="channel",
        barrier=True,
        setup_step="creating the incident channel",
    )
    bus.subscribe(
        "card",
        rec("card"),
        ev.IncidentEvent,
        lane="card",
        coalesce=True,
        needs_channel=True,
        setup_step="posting the incident card",
    )
    bus.subscribe(
        "notices",
        rec("notices"),
        ev.StatusChanged,
        ev.SeverityChanged,
        lane="channel",
        needs_channel=True,
    )
    bus.subscribe("timeline", rec("timeline"), ev.IncidentEvent, lane="record")
    bus.subscribe("setup_failed", rec("setup_failed"), ev.SetupFailed)


def replica(db: Database, recorder: Recorder, clock: Clock, owner: str) -> Services:
    settings = load_settings(
        env_file=None,
        slack_bot_token="xoxb-test",
        slack_api_url=NOWHERE,
        reminder_lease_seconds=LEASE.total_seconds(),
    )
    services = Services(settings=settings, db=db, slack=WebClient("xoxb-test", base_url=NOWHERE))
    services.outbox = Outbox(services, owner=owner, clock=clock)
    subscribe(services.events, recorder)
    return services


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def recorder(db: Database) -> Recorder:
    return Recorder(db)


@pytest.fixture
def bot(db: Database, recorder: Recorder, clock: Clock) -> Services:
    return replica(db, recorder, clock, "replica-a")


def declare(services: Services) -> int:
    def operation(session: Session) -> ev.Event | None:
        _, event = incidents.declare(
            session,
            title="Checkout is down",
            severity="sev2",
            declared_by="U0ALICE01",
            declare_key=uuid.uuid4().hex,
        )
        return event

    event = services.apply(operation)
    assert event is not None
    return event.incident_id


def set_status(services: Services, incident_id: int, status: Status) -> ev.Event:
    return services.apply(
        lambda s: incidents.set_status(
            s, incident=incidents.get(s, incident_id=incident_id), status=status, actor="U0BOB0001"
        )
    )


def rows(db: Database) -> list[OutboxDelivery]:
    with db.read() as session:
        return list(session.exec(select(OutboxDelivery).order_by(col(OutboxDelivery.id))).all())


def claimable(services: Services) -> set[tuple[str, str]]:
    """Claim what is due and ready now, and say which (subscriber, event kind) they are."""
    claimed = services.outbox.runner.claim()
    by_id = {r.id: (r.subscriber, r.event_kind) for r in rows(services.db)}
    return {by_id[c.row_id] for c in claimed}


def deliver_one(services: Services, subscriber: str, kind: str) -> None:
    """Claim and deliver exactly one pending row (subscriber, kind)."""
    [row] = [
        r
        for r in rows(services.db)
        if (r.subscriber, r.event_kind) == (subscriber, kind) and r.due_at is not None
    ]
    assert row.id is not None and row.due_at is not None
    if row.lease_owner == services.outbox.owner:
        claimed = [Claimed(row.id, row.due_at)]
    else:
        claimed = [c for c in services.outbox.runner.claim() if c.row_id == row.id]
    assert claimed, f"{subscriber} of {kind} is not ready"
    assert services.outbox.runner.send(claimed[0]).value == "sent"


# -- writing deliveries ------------------------------------------------------------------


def test_one_delivery_per_event_and_subscriber_and_the_same_event_once(bot: Services) -> None:
    incident_id = declare(bot)
    event = set_status(bot, incident_id, Status.IDENTIFIED)
    assert [(r.subscriber, r.event_kind) for r in rows(bot.db)] == [
        ("channel", "declared"),
        ("card", "declared"),
        ("timeline", "declared"),
        ("card", "status_changed"),
        ("notices", "status_changed"),
        ("timeline", "status_changed"),
    ]
    assert all(r.due_at is not None and r.delivered_at is None for r in rows(bot.db))
    with bot.db.session() as session:  # the same event again (a redelivered subscriber)
        outbox.enqueue(session, bot.events, [event])
    assert len(rows(bot.db)) == 6
    keys = {r.key for r in rows(bot.db)}
    assert ev.delivery_key("notices", event) in keys and len(keys) == 6


# -- order ---------------------------------------------------------------------------------


def test_a_lane_goes_in_order_and_the_channel_holds_back_what_needs_it(
    bot: Services, recorder: Recorder
) -> None:
    incident_id = declare(bot)
    set_status(bot, incident_id, Status.IDENTIFIED)
    set_status(bot, incident_id, Status.MONITORING)
    # Only the channel and the first timeline entry may go: the card and the notices need
    # the channel, later timeline entries wait for the first.
    assert claimable(bot) == {("channel", "declared"), ("timeline", "declared")}
    other = replica(bot.db, recorder, bot.outbox.clock, "replica-b")  # type: ignore[arg-type]
    assert claimable(other) == set()  # leased to replica-a; nothing else is ready
    deliver_one(bot, "channel", "declared")
    # The channel exists: the card and the first notice may go; the second notice waits for
    # the first (a lane), the timeline for its first entry (still claimed, not delivered).
    assert claimable(other) == {("card", "declared"), ("notices", "status_changed")}
    assert claimable(other) == set()


def test_everything_is_delivered_once_in_lane_order(bot: Services, recorder: Recorder) -> None:
    incident_id = declare(bot)
    for status in (Status.IDENTIFIED, Status.MONITORING, Status.INVESTIGATING):
        set_status(bot, incident_id, status)
    outcomes = bot.outbox.drain()
    assert bot.outbox.drain() == {}
    assert all(r.delivered_at is not None and r.due_at is None for r in rows(bot.db))
    names = [name for name, _ in recorder.called()]
    assert names.index("channel") < names.index("card") and names.index("channel") < names.index(
        "notices"
    )
    notices = [d.key for n, _, d in recorder.calls if n == "notices"]
    expected = [r.key for r in rows(bot.db) if r.subscriber == "notices"]
    assert notices == expected  # in the order of the changes
    assert recorder.called("timeline") == [
        ("timeline", "declared"),
        ("timeline", "status_changed"),
        ("timeline", "status_changed"),
        ("timeline", "status_changed"),
    ]
    # Three card refreshes were pending at once: only the newest ran, the others were skipped.
    assert recorder.called("card") == [("card", "declared"), ("card", "status_changed")]
    assert outcomes == {"sent": 10, "skipped": 2}
    superseded = [r for r in rows(bot.db) if r.delivered_by == "(superseded)"]
    assert [(r.subscriber, r.event_kind) for r in superseded] == [("card", "status_changed")] * 2


# -- failures --------------------------------------------------------------------------------


def test_a_permanent_refusal_is_given_up_shown_and_retried_by_hand(
    bot: Services, recorder: Recorder, clock: Clock
) -> None:
    incident_id = declare(bot)
    recorder.failures["notices"] = [slack_error("is_archived")]
    set_status(bot, incident_id, Status.IDENTIFIED)
    set_status(bot, incident_id, Status.MONITORING)
    assert bot.outbox.drain()["gave_up"] == 1
    with bot.db.read() as session:
        [failed] = outbox.undelivered(session)
        counts = outbox.counts(session, late=timedelta(minutes=2))
    assert failed.failed and failed.subscriber == "notices" and failed.attempts == 1
    assert failed.last_error == "gave up: Slack answered `is_archived`"
    assert (counts.pending, counts.failed) == (0, 1)
    # The next notice in the lane was not held up by the one given up.
    assert recorder.called("notices") == [("notices", "status_changed")]
    clock.advance(3600)
    assert bot.outbox.drain() == {}  # never retried on its own
    with bot.db.session() as session:
        assert outbox.retry(session, bot.events, row_id=failed.row_id) is not None
    assert bot.outbox.drain() == {"sent": 1}
    assert len(recorder.called("notices")) == 2
    with bot.db.read() as session:
        assert outbox.undelivered(session) == []
        assert outbox.retry(session, bot.events, row_id=failed.row_id) is None  # done


def test_a_transient_failure_backs_off_and_the_retry_looks_first(
    bot: Services, recorder: Recorder, clock: Clock
) -> None:
    declare(bot)
    recorder.failures["channel"] = [slack_error("internal_error", status=500)]
    assert bot.outbox.drain() == {"failed": 1, "sent": 1}  # the channel; the timeline entry
    [row] = [r for r in rows(bot.db) if r.subscriber == "channel"]
    assert row.attempts == 1 and row.last_error == "Slack answered HTTP 500 `internal_error`"
    assert row.pending_key == row.key  # it may have been made: the retry looks for it first
    assert bot.outbox.drain() == {}
    clock.advance(2.5)
    assert bot.outbox.drain() == {"sent": 2}  # the channel, then the card behind it
    [(_, _, delivery)] = [c for c in recorder.calls if c[0] == "channel"]
    assert delivery.check_first and delivery.key == row.key and delivery.since is not None


def test_a_row_that_needs_a_channel_that_never_came_waits_without_spinning(
    bot: Services, recorder: Recorder
) -> None:
    declare(bot)
    recorder.failures["channel"] = [slack_error("restricted_action")]
    bot.outbox.drain()
    pending = [r for r in rows(bot.db) if r.due_at is not None]
    assert [(r.subscriber, r.event_kind) for r in pending] == [("card", "declared")]
    assert claimable(bot) == set()  # held back by the given-up channel, not retried


def test_a_subscriber_bug_is_given_up_and_not_ready_waits(
    bot: Services, recorder: Recorder
) -> None:
    declare(bot)
    recorder.failures["timeline"] = [KeyError("oops")]
    recorder.failures["channel"] = [NotReady("Slack is not there yet")]
    outcomes = bot.outbox.drain()
    assert outcomes == {"gave_up": 1, "failed": 1}
    by_name = {r.subscriber: r for r in rows(bot.db)}
    assert by_name["timeline"].last_error == "gave up: KeyError: 'oops'"
    assert by_name["channel"].last_error == "Slack is not there yet"
    assert by_name["channel"].pending_key is None  # nothing went out: no need to look


# -- the incident's setup ----------------------------------------------------------------


def test_setup_completes_when_every_step_is_delivered(bot: Services) -> None:
    incident_id = declare(bot)
    assert setup_state(bot, incident_id) == ("pending", None)
    deliver_one(bot, "channel", "declared")
    assert setup_state(bot, incident_id) == ("pending", None)
    bot.outbox.drain()
    assert setup_state(bot, incident_id) == ("complete", None)


def test_a_failed_step_fails_the_setup_tells_the_declarer_once_and_retry_finishes(
    bot: Services, recorder: Recorder
) -> None:
    incident_id = declare(bot)
    recorder.failures["card"] = [slack_error("invalid_blocks")]
    bot.outbox.drain()
    assert setup_state(bot, incident_id) == (
        "failed",
        "Posting the incident card failed: Slack answered `invalid_blocks`.",
    )
    assert recorder.called("setup_failed") == [("setup_failed", "setup_failed")]
    with bot.db.session() as session:
        assert outbox.retry_incident(session, bot.events, incident_id=incident_id) == 1
    assert setup_state(bot, incident_id)[0] == "pending"
    bot.outbox.drain()
    assert setup_state(bot, incident_id) == ("complete", None)
    assert len(recorder.called("setup_failed")) == 1


def test_incidents_without_setup_deliveries_get_them_once(bot: Services) -> None:
    with bot.db.session() as session:  # declared before the outbox existed
        incident, _ = incidents.declare(
            session, title="Old", severity="sev3", declared_by="U0ALICE01", declare_key="old"
        )
        done, _ = incidents.declare(
            session, title="Done", severity="sev3", declared_by="U0ALICE01", declare_key="done"
        )
        done.setup_state = "complete"
        session.add(done)
    for _ in range(2):
        with bot.db.session() as session:
            outbox.reconcile_setup(session, bot.events)
    assert {(r.incident_id, r.subscriber) for r in rows(bot.db)} == {
        (incident.id, "channel"),
        (incident.id, "card"),
        (incident.id, "timeline"),
    }
    bot.outbox.drain()
    assert setup_state(bot, incident.id or 0) == ("complete", None)


def setup_state(services: Services, incident_id: int) -> tuple[str, str | None]:
    with services.db.read() as session:
        incident = incidents.get(session, incident_id=incident_id)
    return incident.setup_state, incident.setup_error


# -- replicas ------------------------------------------------------------------------------


def test_a_dead_replicas_rows_are_taken_over_and_delivered_once(
    bot: Services, recorder: Recorder, clock: Clock
) -> None:
    declare(bot)
    other = replica(bot.db, recorder, clock, "replica-b")
    claimed = bot.outbox.runner.claim()  # replica-a claims, then dies
    assert claimed and other.outbox.drain() == {}
    clock.advance(LEASE.total_seconds() + 1)
    other.outbox.drain()
    assert bot.outbox.runner.send(claimed[0]).value == "skipped"  # it is not a's any more
    assert len(recorder.calls) == len(rows(bot.db))
    assert {r.delivered_by for r in rows(bot.db)} == {"replica-b"}


def test_a_delivery_recorded_by_a_late_replica_is_not_made_again(
    bot: Services, recorder: Recorder, clock: Clock
) -> None:
    declare(bot)
    other = replica(bot.db, recorder, clock, "replica-b")
    [channel] = [c for c in bot.outbox.runner.claim() if c.row_id == rows(bot.db)[0].id]
    with bot.db.session() as session:  # replica-a got as far as the key, then stalled
        from bot.core import delivery

        job = delivery.prepare(session, bot.outbox.source, channel, owner="replica-a", now=clock())
    assert job is not None
    clock.advance(LEASE.total_seconds() + 1)
    [taken] = [c for c in other.outbox.runner.claim() if c.row_id == channel.row_id]
    bot.outbox.send(job, clock, lambda: True)  # replica-a wakes up and delivers it after all
    with bot.db.session() as session:
        receipt = delivery.Receipt(clock(), "channel", None)
        assert not delivery.record_sent(
            session, bot.outbox.source, job, receipt, owner="replica-a", now=clock()
        )
    assert other.outbox.runner.send(taken).value == "skipped"  # recorded: not made again
    assert recorder.called("channel") == [("channel", "declared")]


def test_two_replicas_draining_at_once_deliver_every_row_once(
    db: Database, recorder: Recorder, clock: Clock
) -> None:
    a, b = replica(db, recorder, clock, "replica-a"), replica(db, recorder, clock, "replica-b")
    for n in range(12):
        incident_id = declare(a if n % 2 else b)
        set_status(a, incident_id, Status.IDENTIFIED)
        set_status(b, incident_id, Status.MONITORING)
    threads = [threading.Thread(target=lambda s=s: s.outbox.drain()) for s in (a, b, a, b)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    a.outbox.drain()
    keys = Counter(delivery.key for _, _, delivery in recorder.calls)
    assert keys and max(keys.values()) == 1
    done = rows(db)
    assert all(r.delivered_at is not None for r in done)
    skipped = {r.key for r in done if r.delivered_by == "(superseded)"}
    assert set(keys) == {r.key for r in done} - skipped


# -- retention -----------------------------------------------------------------------------


def test_delivered_rows_are_trimmed_after_the_retention_and_the_rest_kept(
    bot: Services, recorder: Recorder
) -> None:
    incident_id = declare(bot)
    recorder.failures["timeline"] = [slack_error("is_archived")]
    bot.outbox.drain()
    set_status(bot, incident_id, Status.IDENTIFIED)  # pending
    with bot.db.session() as session:
        assert outbox.trim(session, before=utcnow() - timedelta(days=7)) == 0
    with bot.db.session() as session:
        assert outbox.trim(session, before=utcnow() + timedelta(seconds=1)) == 2
    left = [(r.subscriber, r.event_kind, r.due_at is None) for r in rows(bot.db)]
    assert left == [
        ("timeline", "declared", True),  # given up: kept for admins
        ("card", "status_changed", False),
        ("notices", "status_changed", False),
        ("timeline", "status_changed", False),
    ]


def test_the_trim_job_keeps_deliveries_for_outbox_retention_days(
    db: Database, recorder: Recorder, clock: Clock
) -> None:
    services = replica(db, recorder, clock, "replica-a")
    services.settings = services.settings.model_copy(update={"outbox_retention_days": 2.0})
    declare(services)
    services.outbox.drain()
    clock.advance(timedelta(days=1).total_seconds())
    services.outbox.safe_trim()
    assert len(rows(db)) == 3
    clock.advance(timedelta(days=1, minutes=1).total_seconds())
    services.outbox.safe_trim()
    assert rows(db) == []
    with pytest.raises(ConfigError, match="OUTBOX_RETENTION_DAYS"):
        load_settings(env_file=None, outbox_retention_days=0)


def test_the_counts_go_to_the_log(
    bot: Services, recorder: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    declare(bot)
    recorder.failures["timeline"] = [slack_error("is_archived")]
    with caplog.at_level("INFO", logger="bot.slack.outbox"):
        counts = bot.outbox.log_counts()
        assert (counts.pending, counts.failed) == (3, 0)
        bot.outbox.drain()
        counts = bot.outbox.log_counts()
    assert (counts.pending, counts.failed) == (0, 1)
    assert "outbox: 3 pending (0 for over 0:02:00), 0 given up" in caplog.text
    assert "outbox: 0 pending (0 for over 0:02:00), 1 given up" in caplog.text
    later = utcnow() + timedelta(hours=1)
    set_status(bot, rows(bot.db)[0].incident_id, Status.IDENTIFIED)
    with bot.db.read() as session:
        counts = outbox.counts(session, now=later, late=timedelta(minutes=2))
    assert (counts.pending, counts.overdue, counts.failed) == (3, 3, 1)  # given up: not overdue
