"""Recording of Web API calls, for assertions."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass
class Call:
    """One Web API call as the emulator saw and answered it."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        error = self.response.get("error")
        return str(error) if error is not None else None

    def to_dict(self) -> dict[str, Any]:
        params = {
            k: (f"<{len(v)} bytes>" if isinstance(v, bytes) else v) for k, v in self.params.items()
        }
        return {
            "method": self.method,
            "params": params,
            "at": self.at,
            "status": self.status,
            "response": self.response,
        }


class CallLog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._started: list[tuple[str, dict[str, Any]]] = []

    def start(self, method: str, params: dict[str, Any]) -> None:
        """A call arrived (it is answered after any latency, then ``add``-ed)."""
        with self._lock:
            self._started.append((method, params))

    def started(self, method: str) -> list[dict[str, Any]]:
        """The parameters of every call to ``method`` that arrived, answered or not yet."""
        with self._lock:
            return [params for m, params in self._started if m == method]

    def add(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def all(self) -> list[Call]:
        with self._lock:
            return list(self._calls)

    def to(self, method: str) -> list[Call]:
        with self._lock:
            return [c for c in self._calls if c.method == method]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()
            self._started.clear()


def wait_until(
    check: Callable[[], T], *, timeout: float, interval: float, describe: Callable[[], str]
) -> T:
    """Poll ``check`` until it returns something truthy; ``TimeoutError`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout}s waiting for {describe()}")
        time.sleep(interval)
