"""Routing Events API deliveries to features with Bolt's own matchers.

Bolt runs the first listener whose matchers accept an event, so the order of `register` is
the routing table: one listener per feature (reactions by emoji, message edits and deletions
by subtype), then catch-alls that acknowledge the rest of what the bot subscribes to, so
Slack never retries it. Bolt answers `url_verification` and `ssl_check` itself, and
web/server.py answers signed event deliveries before Bolt sees them.

Each listener acknowledges, then runs its feature's work; an emoji that is both a timeline
emoji and the action-item emoji (a configuration that allows it) gets a listener of its own
that runs both, the action item first.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, BoltContext

from handlers import action_items, timeline
from handlers.guard import guarded

Work = Callable[[dict[str, Any], dict[str, Any], BoltContext], None]


def ignore(ack: Ack) -> None:
    """Acknowledge and do nothing."""
    ack()


def acting(*works: Work) -> Callable[..., None]:
    """A listener that acknowledges, then does `works` in order (each `(event, body, context)`)."""

    def listener(
        ack: Ack, event: dict[str, Any], body: dict[str, Any], context: BoltContext
    ) -> None:
        ack()
        for work in works:
            work(event, body, context)

    listener.__name__ = listener.__qualname__ = "_and_".join(w.__name__ for w in works)
    listener.__module__ = works[0].__module__
    return listener


def register(app: App) -> None:
    """Route reactions and message events; acknowledge every other subscribed event."""
    item_emoji, timeline_emoji = action_items.is_action_item_emoji, timeline.is_timeline_emoji
    on_added = app.event("reaction_added", matchers=[item_emoji, timeline_emoji])
    on_added(guarded(acting(action_items.reaction_added, timeline.reaction_added)))
    app.event("reaction_added", matchers=[timeline_emoji])(guarded(acting(timeline.reaction_added)))
    app.event("reaction_added", matchers=[item_emoji])(guarded(acting(action_items.reaction_added)))
    app.event("reaction_removed", matchers=[timeline_emoji])(
        guarded(acting(timeline.reaction_removed))
    )
    app.event({"type": "message", "subtype": "message_changed"})(
        guarded(acting(timeline.message_changed))
    )
    app.event({"type": "message", "subtype": "message_deleted"})(
        guarded(acting(timeline.message_deleted))
    )
    for name in ("reaction_added", "reaction_removed", "message"):
        app.event(name)(ignore)
