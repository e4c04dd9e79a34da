"""Run the real bot (real uvicorn server, real WebClient) against the Slack emulator."""

from __future__ import annotations

import socket
from types import TracebackType
from typing import Any

from app import Runtime, create_runtime
from bot.settings import Settings, load_settings
from playground.emulator import SlackDriver, SlackEmulator
from tests.served import ServerThread
from web.server import server_config
from web.socket_mode import DurableSocketMode

BOT_TOKEN = "xoxb-test-token"
SIGNING_SECRET = "test-signing-secret"
APP_TOKEN = "xapp-1-A0APP00001-1-test-app-token"  # Socket Mode (the emulator accepts it)


def bot_settings(emulator: SlackEmulator, database_url: str, **overrides: Any) -> Settings:
    """Settings for a bot that talks to `emulator` and stores in `database_url`."""
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_app_token": "",
        "slack_api_url": emulator.api_url,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": 0,
        "log_level": "INFO",
    }
    values.update(overrides)
    return load_settings(env_file=None, **values)


class RunningBot:
    """The bot serving HTTP on a free loopback port, in a background thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runtime: Runtime = create_runtime(settings)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        config = server_config(
            self.runtime.web_app,
            log_level="warning",
            header_timeout=settings.request_header_timeout_seconds,
            graceful_timeout=5,
        )
        self._server = ServerThread(config, sockets=[self._socket])
        self.socket_mode: DurableSocketMode | None = None
        if settings.socket_mode:
            self.socket_mode = DurableSocketMode(
                app_token=settings.slack_app_token,
                web_client=self.runtime.services.slack,
                intake=self.runtime.intake,
            )

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    @property
    def events_url(self) -> str:
        """The one URL Slack sends commands, interactivity and events to."""
        return self.base_url + "/slack/events"

    def start(self) -> RunningBot:
        """Start scheduler and server; return when the server accepts connections."""
        self.runtime.start_background()
        self._server.start()
        if self.socket_mode is not None:
            self.socket_mode.connect()
        return self

    def stop(self) -> None:
        """Stop the server the way SIGTERM does, then shut the runtime down."""
        if self.socket_mode is not None:
            self.socket_mode.close()
        self._server.stop()
        self.runtime.shutdown()
        self._socket.close()

    def driver(self, emulator: SlackEmulator) -> SlackDriver:
        """A driver that sends signed requests to this bot."""
        return SlackDriver(
            app_url=self.events_url, signing_secret=SIGNING_SECRET, emulator=emulator
        )

    def __enter__(self) -> RunningBot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def response_to(emulator: SlackEmulator, response_url: str | None, timeout: float = 5) -> Any:
    """The body the bot last posted to `response_url` (waits for it)."""

    def posted() -> list[dict[str, Any]] | None:
        found = [r for r in emulator.responses if r["url"] == response_url]
        return found or None

    return emulator.wait_for(posted, timeout=timeout)[-1]["body"]
