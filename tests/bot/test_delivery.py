"""The delivery engine's rules, one test each (both databases), and how Slack's answers sort.

The engine is driven through a real source (the `reminder` table) and a controllable clock:
claims and leases between replicas, the key fixed before a send, and every row of the
failure-rules table in `bot.core.delivery`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse

from bot import reminders
from bot.core import delivery
from bot.core.delivery import Delivered, Failure, Job, Receipt
from bot.reminders import claims
from bot.reminders.claims import Outgoing
from bot.slack.delivery import Outcome, Runner, classify
from tests.bot.conftest import ME, OTHER, POLICY, T0, Desk, minutes

DUE = T0 + minutes(15)  # a SEV1 incident declared at T0 gets its first reminder then
AFTER_LEASE = DUE + POLICY.lease + timedelta(seconds=1)


# -- claims and leases -------------------------------------------------------------------


def test_two_replicas_never_claim_the_same_row(desk: Desk) -> None:
    ids = [desk.declare() for _ in range(5)]
    mine = desk.claim(DUE, ME)
    assert {c.row_id for c in mine} == {desk.row(i).id for i in ids}
    assert desk.claim(DUE, OTHER) == []


def test_claims_take_the_oldest_first_and_at_most_the_limit(desk: Desk) -> None:
    late, early = desk.declare(at=T0 + minutes(1)), desk.declare()
    with desk.db.session() as session:
        [first] = delivery.claim(session, desk.source, owner=ME, now=DUE + minutes(1), limit=1)
    assert first.row_id == desk.row(early).id and first.due_at == DUE
    [second] = desk.claim(DUE + minutes(1))
    assert second.row_id == desk.row(late).id


def test_a_dead_replicas_lease_runs_out_and_another_takes_over(desk: Desk) -> None:
    incident_id = desk.declare()
    [claimed] = desk.claim(DUE, ME)
    assert desk.claim(DUE + POLICY.lease - timedelta(seconds=1), OTHER) == []
    [taken] = desk.claim(AFTER_LEASE, OTHER)
    assert desk.prepare(claimed, AFTER_LEASE, ME) is None  # ME lost it
    job = desk.prepare(taken, AFTER_LEASE, OTHER)
    assert job is not None and job.item.incident_id == incident_id
    assert desk.renew(job, AFTER_LEASE, OTHER) and not desk.renew(job, AFTER_LEASE, ME)


def test_the_key_is_fixed_before_the_send_and_a_takeover_looks_for_it_first(desk: Desk) -> None:
    incident_id = desk.declare()
    first = desk.take(DUE, ME)
    assert not first.attempt.check_first
    assert desk.row(incident_id).pending_key == first.attempt.key  # stored before the post
    second = desk.take(AFTER_LEASE, OTHER)  # ME died while posting
    assert second.attempt == delivery.Attempt(first.attempt.key, True, DUE)


def test_a_delivery_is_logged_once_per_key_and_a_lost_lease_leaves_the_row(desk: Desk) -> None:
    incident_id = desk.declare()
    job = desk.take(DUE, ME)
    desk.take(AFTER_LEASE, OTHER)
    assert not desk.sent(job, AFTER_LEASE, ME)  # logged, but the row is OTHER's now
    assert desk.row(incident_id).lease_owner == OTHER
    assert desk.sent(job, AFTER_LEASE, OTHER)
    with desk.db.session() as session:
        assert [d.key for d in claims.deliveries(session)] == [job.attempt.key]
    done = desk.row(incident_id)
    assert (done.pending_key, done.lease_owner, done.attempts, done.sent_count) == (
        None,
        None,
        0,
        1,
    )


# -- the failure rules -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delivered", "check_first", "key_kept"),
    [
        (Delivered.NO, False, False),  # proven not sent, and nothing earlier: posts at once
        (Delivered.NO, True, True),  # an earlier attempt may have arrived: look first
        (Delivered.MAYBE, False, True),  # this attempt may have arrived: look first
    ],
)
def test_a_failed_attempt_counts_as_not_posted_only_when_nothing_may_have_arrived(
    desk: Desk, delivered: Delivered, check_first: bool, key_kept: bool
) -> None:
    incident_id = desk.declare()
    job = desk.take(DUE)
    if check_first:
        desk.failed(job, Failure("timeout", Delivered.MAYBE), DUE)
        job = desk.take(DUE + timedelta(seconds=2))
        assert job.attempt.check_first
    desk.failed(job, Failure("refused", delivered), DUE + timedelta(seconds=2))
    row = desk.row(incident_id)
    assert row.pending_key == (job.attempt.key if key_kept else None)
    retried = desk.take(DUE + timedelta(minutes=1))
    assert retried.attempt.check_first is key_kept
    assert (retried.attempt.key == job.attempt.key) is key_kept


def test_transient_failures_back_off_exponentially_up_to_five_minutes(desk: Desk) -> None:
    incident_id = desk.declare()
    now, waits = DUE, []
    for _ in range(10):
        job = desk.take(now)
        desk.failed(job, Failure("HTTP 503", Delivered.MAYBE), now)
        row = desk.row(incident_id)
        assert row.due_at is not None and row.lease_owner is None
        assert desk.claim(row.due_at - timedelta(seconds=1)) == []
        waits.append((row.due_at - now).total_seconds())
        now = row.due_at
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    assert (row.attempts, row.last_error) == (10, "HTTP 503")
    assert desk.sent(desk.take(now), now) and desk.row(incident_id).attempts == 0


def test_retry_after_is_honoured_when_longer_than_the_back_off(desk: Desk) -> None:
    incident_id = desk.declare()
    desk.failed(desk.take(DUE), Failure("429", Delivered.NO, retry_after=30), DUE)
    assert desk.due(incident_id) == DUE + timedelta(seconds=30)
    assert delivery.backoff(1, retry_after=0.5) == timedelta(seconds=2)


def test_a_permanent_refusal_gives_up_until_the_source_plans_the_row_again(desk: Desk) -> None:
    incident_id = desk.declare()
    job = desk.take(DUE)
    desk.failed(job, Failure("Slack answered `is_archived`", Delivered.NO, permanent=True), DUE)
    row = desk.row(incident_id)
    assert (row.due_at, row.pending_key, row.lease_owner, row.attempts) == (None, None, None, 1)
    assert row.last_error == "gave up: Slack answered `is_archived`"
    assert desk.claim(DUE + timedelta(days=1)) == []
    with desk.db.session() as session:  # the next change to the incident re-plans it
        reminders.replan(session, incident_id=incident_id, policy=POLICY, now=DUE + minutes(1))
    assert desk.due(incident_id) == DUE
    assert desk.take(DUE + minutes(1)).attempt.key != job.attempt.key


# -- the runner: any send function -------------------------------------------------------


def test_the_runner_drives_any_send_function_and_a_crashing_one_counts_as_maybe_sent(
    desk: Desk,
) -> None:
    incident_id = desk.declare()
    now = [DUE]
    keys: list[tuple[str, bool]] = []

    def send(job: Job[Outgoing], clock: Callable[[], datetime], renew: Callable[[], bool]) -> Any:
        keys.append((job.attempt.key, job.attempt.check_first))
        if len(keys) == 1:
            raise RuntimeError("the mail server hung up")  # sent? nobody knows
        return Receipt(clock(), "mailto:oncall@example.com", "<1@example.com>")

    runner = Runner(desk.db, desk.source, send, owner=ME, clock=lambda: now[0])
    assert runner.tick() == {"failed": 1}
    assert desk.row(incident_id).pending_key == keys[0][0]
    assert desk.row(incident_id).last_error == "RuntimeError: the mail server hung up"
    now[0] += timedelta(seconds=2)
    assert runner.tick() == {"sent": 1}
    assert keys == [(keys[0][0], False), (keys[0][0], True)]  # the same key, looked for
    with desk.db.session() as session:
        [logged] = claims.deliveries(session)
    assert logged.channel_id == "mailto:oncall@example.com"
    assert logged.message_ts == "<1@example.com>"


def test_a_send_that_loses_its_lease_before_a_resend_sends_nothing(desk: Desk) -> None:
    desk.declare()
    desk.failed(desk.take(DUE), Failure("timeout", Delivered.MAYBE), DUE)
    retry = DUE + timedelta(seconds=2)

    def send(job: Job[Outgoing], clock: Callable[[], datetime], renew: Callable[[], bool]) -> Any:
        assert job.attempt.check_first  # looked, found nothing; meanwhile the lease ran out
        desk.take(retry + POLICY.lease + timedelta(seconds=1), OTHER)
        return None if not renew() else Receipt(clock(), "C1", "1.0")

    runner = Runner(desk.db, desk.source, send, owner=ME, clock=lambda: retry)
    [claimed] = runner.claim()
    assert runner.send(claimed) is Outcome.SKIPPED
    with desk.db.session() as session:
        assert claims.deliveries(session) == []


# -- Slack's answers ---------------------------------------------------------------------


def _error(status: int, body: dict[str, object], **headers: str) -> SlackApiError:
    response = SlackResponse(
        client=None,
        http_verb="POST",
        api_url="https://slack.test/api/chat.postMessage",
        req_args={},
        data=body,
        headers=headers,
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    ("answer", "delivered", "permanent", "retry_after"),
    [
        (_error(429, {"ok": False}, **{"Retry-After": "20"}), "no", False, 20),
        (_error(200, {"ok": False, "error": "ratelimited"}), "no", False, None),
        (_error(200, {"ok": False, "error": "service_unavailable"}), "no", False, None),
        (_error(200, {"ok": False, "error": "request_timeout"}), "no", False, None),
        (_error(503, {"ok": False, "error": "service_unavailable"}), "maybe", False, None),
        (_error(500, {}), "maybe", False, None),
        (_error(200, {"ok": False, "error": "internal_error"}), "maybe", False, None),
        (_error(200, {"ok": False, "error": "fatal_error"}), "maybe", False, None),
        (_error(200, {"ok": False, "error": "invalid_auth"}), "no", False, None),
        (_error(200, {"ok": False, "error": "token_revoked"}), "no", False, None),
        (_error(200, {"ok": False, "error": "missing_scope"}), "no", False, None),
        (_error(200, {"ok": False, "error": "channel_not_found"}), "no", True, None),
        (_error(200, {"ok": False, "error": "is_archived"}), "no", True, None),
        (_error(200, {"ok": False, "error": "invalid_blocks"}), "no", True, None),
        (_error(404, {}), "no", True, None),
        (TimeoutError("timed out"), "maybe", False, None),
        (ConnectionResetError("reset"), "maybe", False, None),
    ],
)
def test_slacks_answers_sort_under_the_rules(
    answer: Exception, delivered: str, permanent: bool, retry_after: float | None
) -> None:
    failure = classify(answer, requested=True)
    assert failure is not None
    assert (failure.delivered, failure.permanent, failure.retry_after) == (
        Delivered(delivered),
        bool(permanent),
        retry_after,
    )


def test_a_failure_before_the_post_never_counts_as_delivered() -> None:
    for answer in (TimeoutError("timed out"), _error(500, {}), _error(200, {"error": "x"})):
        failure = classify(answer, requested=False)
        assert failure is not None and failure.delivered is Delivered.NO


def test_an_ok_answer_is_no_failure_and_errors_are_described() -> None:
    ok = _error(200, {"ok": True, "ts": "1.2"}).response
    assert classify(ok, requested=True) is None
    failure = classify(_error(503, {"ok": False, "error": "service_unavailable"}), requested=True)
    assert failure is not None
    assert failure.error == "Slack answered HTTP 503 `service_unavailable`"
