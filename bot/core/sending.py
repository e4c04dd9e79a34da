"""How a sender reports failure to whoever drives it (the delivery engine).

A sender is anything with `send(item) -> str | None`: it returns when the item was handed
over (with the receiver's reference for it, when it gives one: a status URL, a message ts),
and raises `Retryable` when trying again later may succeed (a timeout, a 429, a 5xx) or
`Permanent` when it cannot (a refused address, bad credentials). `retry_after` carries the
receiver's own hint (Retry-After) in seconds; `maybe_sent` says the request went out and
its outcome is unknown, so the next attempt should look before sending again (the delivery
engine's `Delivered.MAYBE`).
"""

from __future__ import annotations

from typing import Protocol, TypeVar

T_contra = TypeVar("T_contra", contravariant=True)


class SendError(Exception):
    """Sending one item failed."""

    retryable: bool = False

    def __init__(
        self, message: str, *, retry_after: float | None = None, maybe_sent: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Retryable(SendError):
    """Trying again later may succeed."""

    retryable = True


class Permanent(SendError):
    """Trying again will not help; the item is shown as failed."""

    retryable = False


class Sender(Protocol[T_contra]):
    """Sends one item, or raises a SendError."""

    def send(self, item: T_contra) -> str | None: ...


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header's seconds (dates are ignored), or None."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return seconds if seconds >= 0 else None
