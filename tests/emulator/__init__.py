"""A Slack emulator for tests: a stateful Web API server and a driver that plays Slack's part.

- :class:`SlackEmulator` serves the Web API on loopback (point ``WebClient(base_url=...)`` at
  ``emu.api_url``), keeps a workspace's state, records calls and injects faults.
- :class:`SlackDriver` sends signed slash commands, interactions and events to the app.

Command line: ``python -m tests.emulator serve`` / ``python -m tests.emulator send``.
"""

from __future__ import annotations

from .driver import DriverResult, RemoteEmulator, SlackDriver
from .errors import SlackError
from .recording import Call
from .server import SlackEmulator

__all__ = ["Call", "DriverResult", "RemoteEmulator", "SlackDriver", "SlackEmulator", "SlackError"]
