"""Periodic jobs driven by APScheduler; the database decides who sends what."""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler

from bot.services import Services


def schedule(scheduler: BaseScheduler, services: Services) -> None:
    """Add every periodic job to `scheduler` (not yet started)."""
