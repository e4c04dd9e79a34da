"""Captured alert payloads (tests/fixtures/alerts) for the alert tests, a rules file, and an
alert group opened from a payload on a given clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
