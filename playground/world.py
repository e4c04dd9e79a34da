"""The playground's world: a seeded Slack workspace, its people, a recording driver, sinks.

`Playground` owns the emulator (Slack's Web API on loopback), the mailbox (SMTP) and the fake
SMS/social providers; `connect(app_url)` gives it a signed driver for the bot, and every
request it sends to the bot is kept in `requests` for the inspector.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .emulator import DriverResult, SlackDriver, SlackEmulator
from .mailbox import Mailbox
from .providers import FakeProviders


@dataclass(frozen=True)
class Person:
    """A fixed demo user the page can switch to."""

    key: str
    name: str
    real_name: str
    role: str
    tz: str


PEOPLE = (
    Person("iris", "iris", "Iris Ito", "Incident manager", "Europe/London"),
    Person("rami", "rami", "Rami Rahman", "Responder", "Europe/Berlin"),
    Person("sam", "sam", "Sam Silva", "Stakeholder", "America/New_York"),
)
CHANNELS = ("general", "incidents", "random")


def _decoded(body: bytes | str, content_type: str) -> Any:
    """A request body as the inspector shows it: JSON, or a form with its payload parsed."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if content_type.startswith("application/json"):
        try:
            return json.loads(text)
        except ValueError:
            return text
    form = dict(parse_qsl(text, keep_blank_values=True))
    if "payload" in form:
        try:
            return json.loads(form["payload"])
        except ValueError:
            return form
    return form


class RequestLog:
    """What the playground sent to the bot, and what the bot answered."""

    def __init__(self, limit: int = 500) -> None:
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._items: list[dict[str, Any]] = []
        self.limit = limit

    def add(self, kind: str, body: Any, result: DriverResult) -> None:
        with self._lock:
            self._items.append(
                {
                    "id": next(self._ids),
                    "at": time.time(),
                    "kind": kind,
                    "body": body,
                    "status": result.status,
                    "answer": result.json if result.json is not None else result.body,
                    "ms": round(result.elapsed * 1000, 1),
                }
            )
            del self._items[: -self.limit]

    def add_raw(self, kind: str, body: Any, status: int, answer: Any) -> None:
        """A request the playground sent the bot other than through the driver (a hook)."""
        with self._lock:
            self._items.append(
                {
                    "id": next(self._ids),
                    "at": time.time(),
                    "kind": kind,
                    "body": body,
                    "status": status,
                    "answer": answer,
                    "ms": None,
                }
            )
            del self._items[: -self.limit]

    def after(self, request_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._items if item["id"] > request_id]


class RecordingDriver(SlackDriver):
    """A signed driver that keeps every request it sends in a `RequestLog`."""

    log: RequestLog

    def send(
        self,
        body: bytes | str,
        content_type: str,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> DriverResult:
        result = super().send(body, content_type, url=url, headers=headers)
        decoded = _decoded(body, content_type)
        kind = "request"
        if isinstance(decoded, dict):
            kind = str(
                decoded.get("command")
                or (decoded.get("event") or {}).get("type")
                or decoded.get("type")
                or kind
            )
        self.log.add(kind, decoded, result)
        return result


class Playground:
    """Slack, a mailbox and SMS/social providers, all on loopback, for one bot."""

    def __init__(self, *, bot_token: str | None = None, signing_secret: str | None = None) -> None:
        self.bot_token = bot_token or "xoxb-playground-" + secrets.token_hex(8)
        self.signing_secret = signing_secret or secrets.token_hex(16)
        self.slack = SlackEmulator(bot_token=self.bot_token, team_name="Playground")
        self.mailbox = Mailbox()
        self.providers = FakeProviders()
        self.requests = RequestLog()
        self.people: dict[str, str] = {}  # key -> user id
        self.channels: dict[str, str] = {}  # name -> channel id
        self._driver: RecordingDriver | None = None

    def start(self) -> Playground:
        self.slack.start()
        self.mailbox.start()
        self.providers.start()
        self.seed()
        return self

    def stop(self) -> None:
        self.providers.stop()
        self.mailbox.stop()
        self.slack.stop()

    def seed(self) -> None:
        """The demo workspace: three people, #general, #incidents and #random."""
        for person in PEOPLE:
            self.people[person.key] = self.slack.add_user(
                person.name,
                real_name=person.real_name,
                email=f"{person.name}@playground.example",
                tz=person.tz,
                is_admin=person.key == "iris",
                title=person.role,
            )
        everyone = list(self.people.values())
        for name in CHANNELS:
            self.channels[name] = self.slack.add_channel(
                name, members=everyone, is_general=name == "general"
            )

    def connect(self, app_url: str) -> RecordingDriver:
        """A driver sending signed requests to the bot at `app_url` (its /slack/events)."""
        driver = RecordingDriver(app_url, self.signing_secret, self.slack, timeout=30)
        driver.log = self.requests
        self._driver = driver
        return driver

    @property
    def driver(self) -> RecordingDriver:
        if self._driver is None:
            raise RuntimeError("the playground is not connected to a bot yet")
        return self._driver

    def mentions(self, text: str, *, command: bool) -> str:
        """`@iris` and `#general` typed in `text` as the Slack client sends them once picked
        from its autocomplete: `<@U…>` in messages, `<@U…|iris>` in escaped slash commands."""

        def person(match: re.Match[str]) -> str:
            user_id = self.people.get(match.group(1).lower())
            if user_id is None:
                return match.group(0)
            return f"<@{user_id}|{match.group(1).lower()}>" if command else f"<@{user_id}>"

        def channel(match: re.Match[str]) -> str:
            found = self.slack.ws.channel_by_name(match.group(1).lower())
            return f"<#{found.id}|{found.name}>" if found is not None else match.group(0)

        text = re.sub(r"(?<![\w<])@([A-Za-z][\w.-]*)", person, text)
        return re.sub(r"(?<![\w<&])#([a-z0-9][a-z0-9_-]*)", channel, text)

    def person(self, user_id: str) -> Person | None:
        for person in PEOPLE:
            if self.people.get(person.key) == user_id:
                return person
        return None

    def show_answer(self, user: str, channel: str, answer: Any) -> None:
        """A command's immediate answer (text/blocks in the HTTP response), shown to `user`
        only, as Slack shows it."""
        if not isinstance(answer, dict) or not (answer.get("text") or answer.get("blocks")):
            return
        ws = self.slack.ws
        with ws.lock:
            ws.ephemerals.append(
                {
                    "type": "message",
                    "channel": channel,
                    "user": user,
                    "ts": ws.next_ts(),
                    "thread_ts": None,
                    "bot_id": ws.bot_id,
                    "text": str(answer.get("text") or ""),
                    "blocks": list(answer.get("blocks") or []),
                    "source": "command_response",
                }
            )
