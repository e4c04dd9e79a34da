"""Report failures that happen after a listener has acknowledged.

Bolt's thread runner has a race: when a listener calls ack() and then raises quickly, its
error path can overwrite the ack with None before the request thread reads it, so Slack
sees no answer for 3 seconds (and retries). `guarded` catches such errors inside the
listener and reports them with the app's error reporting instead; errors raised before
ack() still go to Bolt's error handler, which answers the request.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from handlers.errors import report

_NEEDED = ("body", "context", "client")


def guarded(listener: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a Bolt listener so errors after its ack() are reported, not re-raised."""
    signature = inspect.signature(listener)
    own = set(signature.parameters)
    extra = [
        inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        for name in _NEEDED
        if name not in own
    ]

    def wrapper(**kwargs: Any) -> Any:
        context = kwargs["context"]
        try:
            return listener(**{k: v for k, v in kwargs.items() if k in own})
        except Exception as error:
            if context.ack is None or context.ack.response is None:
                raise  # not acknowledged yet: Bolt's error handler answers the request
            report(error, body=kwargs["body"], context=context, client=kwargs["client"])
            return None

    # Bolt injects arguments by the names in the signature (it reads __signature__).
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    wrapper.__name__ = getattr(listener, "__name__", "listener")
    wrapper.__qualname__ = getattr(listener, "__qualname__", wrapper.__name__)
    wrapper.__doc__ = listener.__doc__
    wrapper.__module__ = listener.__module__
    return wrapper
