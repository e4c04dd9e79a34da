"""The error type that Web API method handlers raise to answer ``{"ok": false, ...}``."""

from __future__ import annotations

from typing import Any


class SlackError(Exception):
    """A Slack Web API error: ``{"ok": false, "error": code, **extra}`` with an HTTP status."""

    def __init__(
        self,
        code: str,
        *,
        status: int = 200,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(code)
        self.code = code
        self.status = status
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, **self.extra}


def invalid_arguments(*messages: str) -> SlackError:
    """``invalid_arguments`` with Slack's ``response_metadata.messages`` lines."""
    lines = [m if m.startswith("[") else f"[ERROR] {m}" for m in messages]
    return SlackError("invalid_arguments", extra={"response_metadata": {"messages": lines}})


def missing_field(name: str, pointer: str = "") -> SlackError:
    return invalid_arguments(
        f"missing required field: {name}" + (f" [json-pointer:{pointer}]" if pointer else "")
    )
