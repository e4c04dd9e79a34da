"""The scheduler stops while a job adds a job (bot/slack/jobs.Scheduler)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.base import STATE_STOPPED

from bot.slack.jobs import Scheduler
from storage.types import utcnow


def test_a_job_that_adds_a_job_while_the_scheduler_stops_does_not_hang_it() -> None:
    scheduler = Scheduler(timezone="UTC")
    running, go_on, added = threading.Event(), threading.Event(), threading.Event()

    def tick() -> None:  # as a reminder tick that plans its wake-up
        running.set()
        go_on.wait(5)
        scheduler.add_job(lambda: None, "date", run_date=utcnow() + timedelta(hours=1))
        added.set()

    scheduler.start()
    scheduler.add_job(tick, "date", run_date=utcnow())
    assert running.wait(5)
    stopping = threading.Thread(target=scheduler.shutdown, daemon=True)
    stopping.start()
    stopping.join(0.2)  # shutdown now waits for the tick
    go_on.set()
    stopping.join(5)
    assert not stopping.is_alive(), "shutdown waited forever for a job that adds a job"
    assert added.is_set()


class HoldingExecutor(ThreadPoolExecutor):
    """Hands a due job to its threads, then holds the scheduler's thread until the scheduler
    is stopped: the moment another thread calls shutdown() while jobs are being handed out."""

    def __init__(self) -> None:
        super().__init__(2)
        self.submitted = threading.Event()
        self.scheduler: Scheduler | None = None

    def submit_job(self, job: Any, run_times: Any) -> None:
        super().submit_job(job, run_times)
        self.submitted.set()
        deadline = time.monotonic() + 5
        while self.scheduler is not None and self.scheduler.state != STATE_STOPPED:
            if time.monotonic() > deadline:
                break
            time.sleep(0.005)


def test_a_shutdown_while_a_due_job_is_handed_out_leaves_no_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    raised: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: raised.append(args.exc_value))
    executor = HoldingExecutor()
    scheduler = Scheduler(timezone="UTC", executors={"default": executor})
    executor.scheduler = scheduler
    ran = threading.Event()
    scheduler.start(paused=True)
    scheduler.add_job(ran.set, "date", run_date=utcnow())
    scheduler.resume()
    assert executor.submitted.wait(5)
    stopping = threading.Thread(target=scheduler.shutdown, daemon=True)
    stopping.start()
    stopping.join(5)
    assert not stopping.is_alive()  # (BackgroundScheduler.shutdown joins the thread)
    # APScheduler removes a job it handed out; stopped, it looked for it among the jobs added
    # while stopped, and its thread died with JobLookupError.
    assert raised == []
    assert ran.wait(5)  # the job handed out still ran
