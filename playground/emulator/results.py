"""The result of one request the driver sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class DriverResult:
    """The app's answer to one request, plus what was sent."""

    status: int
    headers: dict[str, str]
    body: str
    json: Any
    elapsed: float
    payload: Any = None
    response_url: str | None = None
    trigger_id: str | None = None
    view_errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def header(self, name: str) -> str | None:
        for key, value in self.headers.items():
            if key.lower() == name.lower():
                return value
        return None
