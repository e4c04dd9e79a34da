"""The processing worker beside the front (web/handoff.py), as real processes.

`python app.py` answers Slack in one process and processes commands, buttons, events and
forms in a worker it starts beside it. These tests run it as deployed, find the worker in
the front's log, and check who processed what (the inbox row's lease owner), that a killed
worker is replaced without losing what it was given, and that the worker dies with the front.
"""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlmodel import col, select

from playground.emulator import SlackDriver, SlackEmulator
from storage.models import Incident
from storage.models_inbox import InboxRequest
from storage.models_limits import RateLimit
from storage.models_timeline import TimelineEntry
from tests.harness import SIGNING_SECRET
from tests.processes import StartBot, bot_processes  # noqa: F401
from tests.scenarios import open_declare_form, submit_declare
from tests.test_durability import (
    SETTINGS,
    _journal_only,
    _journaled,
    _people,
    _read,
    _seed_incident,
)

pytestmark = pytest.mark.scenario

READY = re.compile(r"processing worker (\S+) ready \(pid (\d+)\)")


def _worker(log: Path, *, after: int = 0, timeout: float = 30) -> tuple[str, int]:
    """The lease owner and pid of the next worker the front says is ready."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = READY.findall(log.read_text())
        if len(found) > after:
            owner, pid = found[after]
            return owner, int(pid)
        time.sleep(0.05)
    raise AssertionError("no processing worker became ready")


def _workspace(slack: SlackEmulator, db_url: str) -> tuple[list[str], str, int, str]:
    """People, #general, and an incident with its channel (as tests/test_durability.py)."""
    users, general = _people(slack)
    incident_id, channel = _seed_incident(slack, db_url, users)
    return users, general, incident_id, channel


def _with_worker(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    tmp_path: Path,
) -> tuple[Any, SlackDriver, tuple[str, int]]:
    """The bot with its processing worker, a driver for it, and the worker's owner and pid."""
    bot = bot_processes(**{**SETTINGS, "PROCESS_WORKER": "on"})
    worker = _worker(tmp_path / "bots.log")
    return bot, SlackDriver(bot.events_url, SIGNING_SECRET, slack), worker


def _niceness(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[16])


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def _row(db_url: str, kind: str, containing: str) -> InboxRequest:
    rows = _read(db_url, select(InboxRequest).where(InboxRequest.kind == kind))
    rows = [r for r in rows if containing in r.body]
    assert len(rows) == 1, rows
    return rows[0]


def _processed(db_url: str, kind: str) -> bool:
    rows = _read(db_url, select(InboxRequest).where(InboxRequest.kind == kind))
    return bool(rows) and all(r.processed_at is not None for r in rows)


def _slack_calls(url: str, method: str) -> float:
    request = urllib.request.Request(
        f"{url}/metrics", headers={"Authorization": "Bearer scrape-me"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        text = response.read().decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            named = sample.name == "incident_bot_slack_api_calls_total"
            if named and sample.labels.get("method") == method:
                return float(sample.value)
    return 0.0


def test_commands_events_and_forms_are_processed_by_the_worker(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    users, general, incident_id, channel = _workspace(slack, db_url)
    bot = bot_processes(**{**SETTINGS, "PROCESS_WORKER": "on", "METRICS_TOKEN": "scrape-me"})
    owner, pid = _worker(tmp_path / "bots.log")
    driver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    assert _niceness(pid) == min(19, _niceness(os.getpid()) + 10)  # answers first, if both run

    ts = driver.user_posts(users[1], channel, "Card payments fail since 10:02")
    assert driver.user_reacts(users[0], channel, ts, "pushpin").status == 200
    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=15, interval=0.05)
    entries = _read(db_url, select(TimelineEntry).where(TimelineEntry.message_ts == ts))
    assert [e.incident_id for e in entries] == [incident_id]
    assert _row(db_url, "events_api", "reaction_added").lease_owner == owner  # processed there
    # On SQLite the front answered from its journal and the worker moved the line into the
    # inbox; told so, the front empties its journal.
    slack.wait_for(lambda: _journaled(db_url) == [], timeout=10, interval=0.05)

    before = len(slack.responses)
    assert driver.slash_command("help", user=users[0], channel=general).status == 200
    slack.wait_for(lambda: len(slack.responses) > before, timeout=15, interval=0.05)
    slack.wait_for(lambda: _processed(db_url, "slash_commands"), timeout=15, interval=0.05)
    assert _row(db_url, "slash_commands", "help").lease_owner == owner

    view = open_declare_form(driver, slack, user=users[2], channel=general, text="Queue stuck")
    assert submit_declare(driver, view, user=users[2], title="Queue stuck").status == 200

    def declared() -> list[Incident]:
        found = _read(db_url, select(Incident).where(Incident.title == "Queue stuck"))
        return [i for i in found if i.channel_id and i.setup_state == "complete"]

    slack.wait_for(declared, timeout=20, interval=0.1)
    forms = _read(db_url, select(InboxRequest).where(InboxRequest.kind == "interactive"))
    assert [r.lease_owner for r in forms] == [owner]  # the form is answered here, run there
    assert len(declared()) == 1

    # The front's /metrics counts the worker's Web API calls (it reports them every second).
    slack.wait_for(lambda: _slack_calls(bot.url, "reactions.add") >= 1, timeout=10, interval=0.2)


def test_a_killed_worker_is_replaced_and_what_it_was_given_is_done_once(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    users, general, incident_id, channel = _workspace(slack, db_url)
    bot, driver, (first_owner, first_pid) = _with_worker(bot_processes, slack, tmp_path)
    log = tmp_path / "bots.log"

    ts = driver.user_posts(users[1], channel, "Checkout returns 502")
    slack.set_latency(1.0)  # reading the message takes a second: the kill comes before
    assert driver.user_reacts(users[0], channel, ts, "pushpin").status == 200
    os.kill(first_pid, signal.SIGKILL)
    slack.set_latency(0)
    # The front answers meanwhile, and processes requests itself until a new worker is ready.
    assert driver.slash_command("help", user=users[0], channel=general).status == 200

    second_owner, second_pid = _worker(log, after=1)
    assert second_owner != first_owner and second_pid != first_pid

    def entries() -> list[TimelineEntry]:
        return _read(db_url, select(TimelineEntry).where(TimelineEntry.message_ts == ts))

    slack.wait_for(entries, timeout=30, interval=0.1)  # the lease ran out; the sweep took it
    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=15, interval=0.1)

    def confirmations() -> list[object]:
        calls = slack.calls_to("reactions.add")
        return [c for c in calls if c.params.get("timestamp") == ts and c.status == 200]

    slack.wait_for(confirmations, timeout=10)
    time.sleep(1.0)  # anything done twice would show by now
    assert [e.incident_id for e in entries()] == [incident_id]
    assert len(confirmations()) == 1

    bot.kill()  # SIGKILL the front: the kernel takes its worker with it
    deadline = time.monotonic() + 10
    while _alive(second_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(second_pid), "the worker outlived its front"


def test_the_declare_limit_holds_for_forms_answered_before_their_take(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    """On SQLite the front answers a declare form given to the worker after a read-only look
    at the person's limit, and takes from it after the answer (web/journal.py): forms
    submitted together still get no more than the limit, the others an error in the form."""
    users, general, _, _ = _workspace(slack, db_url)
    bot = bot_processes(**{**SETTINGS, "PROCESS_WORKER": "on", "RATE_LIMITS": "declare=2/1m"})
    _worker(tmp_path / "bots.log")
    driver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    views = [
        open_declare_form(driver, slack, user=users[3], channel=general, text=f"Spike {n}")
        for n in range(4)
    ]  # (opening the form only looks at the limit)

    def submit(n: int) -> Any:
        result = submit_declare(driver, views[n], user=users[3], title=f"Spike {n}")
        assert result.status == 200
        return result.json

    with ThreadPoolExecutor(max_workers=4) as pool:
        answers = list(pool.map(submit, range(4)))
    refused = [a for a in answers if a and a.get("response_action") == "errors"]
    assert len(refused) == 2, answers
    assert all("Slow down" in str(a["errors"]) for a in refused)

    def declared() -> list[Incident]:
        found = _read(db_url, select(Incident).where(col(Incident.title).startswith("Spike")))
        return [i for i in found if i.setup_state == "complete"]

    slack.wait_for(lambda: len(declared()) == 2, timeout=20, interval=0.1)
    time.sleep(1.0)  # a third would show by now
    assert len(declared()) == 2
    # Both were taken from the limit where they were kept (on SQLite, by the worker that
    # moved them into the inbox): the database holds what is left, less than one.
    (bucket,) = _read(db_url, select(RateLimit).where(RateLimit.user_id == users[3]))
    assert bucket.bucket == "declare" and bucket.tokens < 1.0, bucket


def test_a_journal_line_the_worker_died_before_moving_is_moved_by_the_front(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    """On SQLite the front gives the worker what it answered from its journal, and the worker
    moves it into the inbox. A worker killed before it did leaves the line to the front's
    sweep: the reaction is on the timeline once, and the journal is emptied."""
    _journal_only(db_url)
    users, _, incident_id, channel = _workspace(slack, db_url)
    _, driver, (_, pid) = _with_worker(bot_processes, slack, tmp_path)
    ts = driver.user_posts(users[1], channel, "Search returns nothing")

    def reactions_kept() -> list[InboxRequest]:
        rows = _read(db_url, select(InboxRequest).where(InboxRequest.kind == "events_api"))
        return [r for r in rows if "reaction_added" in r.body]

    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=15, interval=0.05)
    slack.wait_for(lambda: _journaled(db_url) == [], timeout=10, interval=0.05)
    os.kill(pid, signal.SIGSTOP)  # the worker reads nothing more from the front
    try:
        assert driver.user_reacts(users[0], channel, ts, "pushpin").status == 200
        time.sleep(0.5)  # given to the worker: in the pipe, not in the inbox
        assert reactions_kept() == [] and len(_journaled(db_url)) == 1
    finally:
        os.kill(pid, signal.SIGKILL)

    def entries() -> list[TimelineEntry]:
        return _read(db_url, select(TimelineEntry).where(TimelineEntry.message_ts == ts))

    slack.wait_for(entries, timeout=30, interval=0.1)
    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=15, interval=0.1)
    slack.wait_for(lambda: _journaled(db_url) == [], timeout=10, interval=0.1)
    time.sleep(1.0)  # anything done twice would show by now
    assert [e.incident_id for e in entries()] == [incident_id]
    assert len(reactions_kept()) == 1
    confirmed = [c for c in slack.calls_to("reactions.add") if c.params.get("timestamp") == ts]
    assert len([c for c in confirmed if c.status == 200]) == 1


def test_given_requests_are_moved_into_the_inbox_as_they_come_not_as_they_are_processed(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    """On SQLite the worker moves what the front gives into the inbox as it comes, while its
    one processing thread is still busy with the first: the front's journal empties at the
    pace requests come, not at the pace they are processed."""
    _journal_only(db_url)
    users, _, _, channel = _workspace(slack, db_url)
    bot = bot_processes(**{**SETTINGS, "PROCESS_WORKER": "on", "WORKER_THREADS": "1"})
    _worker(tmp_path / "bots.log")
    driver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    stamps = [driver.user_posts(users[1], channel, f"Finding {n}") for n in range(8)]
    slack.set_latency(0.5)  # each reaction's processing takes a second or more from now
    started = time.monotonic()
    for ts in stamps:
        assert driver.user_reacts(users[0], channel, ts, "pushpin").status == 200
    slack.wait_for(lambda: _journaled(db_url) == [], timeout=10, interval=0.05)
    emptied = time.monotonic() - started
    rows = _read(db_url, select(InboxRequest).where(InboxRequest.kind == "events_api"))
    rows = [r for r in rows if '"reaction_added"' in r.body]  # (not the messages' events)
    assert len(rows) == 8
    assert sum(r.processed_at is not None for r in rows) < 8, "processed before the check"
    assert emptied < 4.0, emptied  # (processing them one at a time takes 8 s and more)
    slack.set_latency(0)
    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=30, interval=0.1)
    entries = _read(db_url, select(TimelineEntry).where(col(TimelineEntry.message_ts).in_(stamps)))
    assert len(entries) == 8


def test_one_persons_commands_are_processed_in_the_order_they_came_on_one_thread(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
) -> None:
    """Given lines are moved at once by several threads, in whatever order those end; one
    person's commands are still processed in the order they came, and a pool of one
    thread never waits for a command still queued behind the one it holds (web/worker.py)."""
    users, _, incident_id, channel = _workspace(slack, db_url)
    bot = bot_processes(**{**SETTINGS, "PROCESS_WORKER": "on", "WORKER_THREADS": "1"})
    _worker(tmp_path / "bots.log")
    driver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    slack.set_latency(0.1)
    notes = [f"Finding number {n}" for n in range(12)]
    started = time.monotonic()
    for note in notes:
        assert driver.slash_command(f"note {note}", user=users[0], channel=channel).status == 200

    def noted() -> list[str]:
        found = _read(db_url, select(TimelineEntry).where(TimelineEntry.incident_id == incident_id))
        return [e.text for e in sorted(found, key=lambda e: e.id or 0) if e.text in notes]

    slack.wait_for(lambda: len(noted()) == len(notes), timeout=25, interval=0.1)
    assert noted() == notes
    assert time.monotonic() - started < 20  # (a request waiting on one queued behind: 30 s)


@pytest.mark.parametrize("worker", ["on", "off"])
def test_a_command_goes_before_the_events_waiting_to_be_processed(
    bot_processes: StartBot,  # noqa: F811
    slack: SlackEmulator,
    db_url: str,
    tmp_path: Path,
    worker: str,
) -> None:
    """Someone who typed a command or pressed a button waits for it, and its trigger lasts
    3 s; events wait for nobody. A backlog of reactions under a slow Slack, longer than a
    trigger lasts, keeps neither the declare form from opening nor its submission waiting:
    in the worker, what a person sent goes first (web/lanes.py); without a worker, the
    front's threads are not held that way."""
    users, general, _, channel = _workspace(slack, db_url)
    bot = bot_processes(**{**SETTINGS, "PROCESS_WORKER": worker, "WORKER_THREADS": "2"})
    if worker == "on":
        _worker(tmp_path / "bots.log")
    driver = SlackDriver(bot.events_url, SIGNING_SECRET, slack)
    stamps = [driver.user_posts(users[1], channel, f"Finding {n}") for n in range(20)]
    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=15, interval=0.05)
    for method in ("reactions.get", "users.info", "reactions.add"):  # a reaction's calls:
        slack.set_latency(0.3, method)  # each reaction's processing takes 0.9 s and more
    for ts in stamps:
        assert driver.user_reacts(users[0], channel, ts, "pushpin").status == 200
    before = len(slack.calls_to("views.open"))
    started = time.monotonic()
    assert driver.slash_command("declare Queue stuck", user=users[2], channel=general).status == 200
    slack.wait_for("views.open", count=before + 1, timeout=20)
    opened = time.monotonic() - started
    # (behind the reactions, two at a time, 9 s and more: the trigger expired)
    view = slack.current_view(users[2])
    assert view is not None, f"the form did not open ({opened:.1f} s)"
    # The form's submission, answered by the front and handed over, goes before them too.
    started = time.monotonic()
    assert submit_declare(driver, view, user=users[2], title="Queue stuck").status == 200

    def declared() -> list[Incident]:
        return _read(db_url, select(Incident).where(Incident.title == "Queue stuck"))

    slack.wait_for(declared, timeout=30, interval=0.05)
    recorded = time.monotonic() - started
    assert recorded < 3.0, recorded  # (behind the reactions: 5 s and more)
    for method in ("reactions.get", "users.info", "reactions.add"):
        slack.set_latency(0, method)
    slack.wait_for(lambda: _processed(db_url, "events_api"), timeout=30, interval=0.1)
    entries = _read(db_url, select(TimelineEntry).where(col(TimelineEntry.message_ts).in_(stamps)))
    assert len(entries) == len(stamps)  # every reaction processed after all, once
