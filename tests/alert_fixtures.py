"""Captured alert payloads (tests/fixtures/alerts) for the alert tests, a rules file, an
alert group opened from a payload on a given clock, and a sender that retries as
Alertmanager does."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.alerts.intake import store
from bot.alerts.parsers import parse_prometheus
from bot.alerts.rules import AlertRules, load_rules
from storage import Database

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)  # a Monday: 13:00 in Paris


def raw(name: str) -> bytes:
    """The fixture's bytes, exactly as stored."""
    return (FIXTURES / f"{name}.json").read_bytes()


def payload(name: str) -> Any:
    """The fixture decoded."""
    return json.loads(raw(name))


def rules_file(folder: Path, text: str) -> AlertRules:
    """The rules of `text`, loaded from a rules file written in `folder`."""
    path = folder / "rules.yml"
    path.write_text(text)
    return load_rules(str(path))


def open_group(db: Database, rules: AlertRules) -> int:
    """The id of the group that Alertmanager's firing payload opens at T0."""
    result = store(db, parse_prometheus(payload("alertmanager_firing")), rules=rules, now=T0)
    return result.opened[0]


def send_alert(url: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST a delivery to a running bot's hook and send it again on a 503, as Alertmanager
    does (it backs off; here 0.2 s, at most 3 tries). A 503 is what a store past the hooks'
    0.9 s deadline gets, which a loaded 2-core test machine can reach, above all just after
    the bot starts; the store goes on, and the retry is answered 200 ("repeated")."""
    for attempt in range(3):
        response = httpx.post(url, content=body, headers=headers, timeout=5)
        if response.status_code != 503 or attempt == 2:
            return response
        time.sleep(0.2)
    raise AssertionError("unreachable")
