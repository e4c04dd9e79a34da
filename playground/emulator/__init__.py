"""A Slack emulator for tests: a stateful Web API server and a driver that plays Slack's part.

- :class:`SlackEmulator` serves the Web API on loopback (point ``WebClient(base_url=...)`` at
  ``emu.api_url``), keeps a workspace's state, records calls and injects faults.
- :class:`SlackDriver` sends signed slash commands, interactions and events to the app;
  :class:`SocketModeDriver` sends the same as Socket Mode envelopes over the emulator's
  WebSocket (``apps.connections.open``) and checks the app's acknowledgements.

Command line: ``python -m playground.emulator serve`` / ``python -m playground.emulator send``.
"""

from __future__ import annotations

from .driver import DriverResult, RemoteEmulator, SlackDriver
from .errors import SlackError
from .recording import Call
from .server import SlackEmulator
from .socket_driver import SocketModeDriver

__all__ = [
    "Call",
    "DriverResult",
    "RemoteEmulator",
    "SlackDriver",
    "SlackEmulator",
    "SlackError",
    "SocketModeDriver",
]
