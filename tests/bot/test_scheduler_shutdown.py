"""The scheduler stops while a job adds a job (bot/slack/jobs.Scheduler)."""

from __future__ import annotations

import threading
from datetime import timedelta

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
