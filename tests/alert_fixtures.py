"""Captured alert payloads (tests/fixtures/alerts) for the alert tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures" / "alerts"


def raw(name: str) -> bytes:
    """The fixture's bytes, exactly as stored."""
    return (FIXTURES / f"{name}.json").read_bytes()


def payload(name: str) -> Any:
    """The fixture decoded."""
    return json.loads(raw(name))
