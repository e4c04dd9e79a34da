"""The requests a benchmark sends, built ahead of time with the emulator's driver.

`Recorder` is the test suite's `SlackDriver` with its sending taken out: it builds the very
bodies the driver sends (slash command forms, view_submission payloads, Events API
envelopes), keeps the emulator's state in step as the driver does (a reaction is stored on
the message before its event goes out), and hands the bodies to the load generator, which
signs and times them in another process.
"""

from __future__ import annotations

import itertools
from typing import Any

from bench.processes import SECRET
from blocks.ids import Action
from playground.emulator import DriverResult, SlackDriver, SlackEmulator
from tests.scenarios import declare_values

KINDS = ("help", "declare", "reaction", "button")
KIND_LABELS = {
    "help": "/incident help",
    "declare": "declare submission",
    "reaction": "reaction_added",
    "button": "card button",
}
CARD_BUTTON = Action.POST_UPDATE.value  # the incident card's "Post update": opens a form
TIMELINE_EMOJI = "pushpin"
_serial = itertools.count(1)


class Recorder(SlackDriver):
    """A SlackDriver that writes requests down instead of sending them."""

    def __init__(self, emulator: SlackEmulator) -> None:
        super().__init__("http://127.0.0.1:9/unused", SECRET, emulator)
        self.items: list[dict[str, Any]] = []

    def send(
        self,
        body: bytes | str,
        content_type: str,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> DriverResult:
        text = body.decode() if isinstance(body, bytes) else body
        self.items.append({"content_type": content_type, "body": text, "headers": headers or {}})
        return DriverResult(0, {}, "", None, 0.0)  # status 0: the driver updates no modal

    def take(self) -> list[dict[str, Any]]:
        """The requests written down so far (and forget them)."""
        items, self.items = self.items, []
        return items


class Traffic:
    """Builds batches of each request kind against one prepared workspace."""

    def __init__(
        self,
        emulator: SlackEmulator,
        *,
        users: list[str],
        channel: str,
        declare_view: dict[str, Any],
        incident_channels: list[str],
    ) -> None:
        self.emulator = emulator
        self.users = users
        self.channel = channel
        self.declare_view = declare_view
        self.incident_channels = incident_channels
        self.recorder = Recorder(emulator)
        self._cards: dict[str, dict[str, Any]] = {}

    def build(self, kind: str, count: int) -> list[dict[str, Any]]:
        """`count` fresh requests of `kind` (each one real work for the bot)."""
        for n in range(count):
            serial = next(_serial)
            user = self.users[n % len(self.users)]
            if kind == "help":
                self.recorder.slash_command("help", user=user, channel=self.channel)
            elif kind == "declare":
                self._declare(serial, user)
            elif kind == "reaction":
                self._reaction(serial, n)
            elif kind == "button":
                self._button(n)
            else:
                raise ValueError(f"unknown request kind {kind!r}")
        return self.recorder.take()

    def _declare(self, serial: int, user: str) -> None:
        # The bot opened this form; each submission gets its own view id (the bot declares
        # once per view id), so every request declares a new incident.
        view = {**self.declare_view, "id": f"VBENCH{serial:07d}"}
        values = declare_values(title=f"Bench load {serial}", severity="sev3", manager=user)
        self.recorder.view_submission(view, values, user=user)

    def _reaction(self, serial: int, n: int) -> None:
        # Someone posts in an incident channel, someone else marks it with the timeline emoji.
        channel = self.incident_channels[n % len(self.incident_channels)]
        author = self.users[n % len(self.users)]
        reactor = self.users[(n + 1) % len(self.users)]
        message = self.emulator.post_as_user(author, channel, f"Finding {serial}: cache is cold")
        self.recorder.user_reacts(reactor, channel, str(message["ts"]), TIMELINE_EMOJI)

    def _button(self, n: int) -> None:
        # Someone in an incident channel presses "Post update" on its card (a block action,
        # answered at once; the bot then opens the update form with the click's trigger).
        channel = self.incident_channels[n % len(self.incident_channels)]
        user = self.users[n % len(self.users)]
        card = self._card(channel)
        self.recorder.block_actions(CARD_BUTTON, user=user, message=card, channel=channel)

    def _card(self, channel: str) -> dict[str, Any]:
        """The incident's card in `channel`: the one message the bot pins there."""
        card = self._cards.get(channel)
        if card is None:
            card = self._cards[channel] = self.emulator.pins(channel)[0]
        return card
