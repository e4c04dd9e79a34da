"""The bot in playground mode, in this process: what `scripts/start` without credentials runs
(web/playground/startup.py), served by a real uvicorn server on the session's loopback port."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

from app import Runtime, create_runtime
from bot.settings import load_settings
from tests.served import ServerThread
from web.playground.startup import PlaygroundSession, start_session
from web.server import server_config


class PlaygroundBot:
    """`start_session` + `create_runtime(..., extra_routes=session.routes())` + a server (the
    one of tests/served.py, which stops at once)."""

    def __init__(self, data_dir: Path, **settings: Any) -> None:
        base = load_settings(env_file=None, slack_bot_token="", port=0, **settings)
        self.session: PlaygroundSession = start_session(base, env_file=None, data_dir=data_dir)
        try:
            self.runtime: Runtime = create_runtime(
                self.session.settings, extra_routes=self.session.routes()
            )
        except BaseException:
            self.session.stop()
            raise
        self.session.connect()
        config = server_config(
            self.runtime.web_app,
            host=self.session.settings.host,
            port=self.session.settings.port,
            log_level="warning",
            graceful_timeout=5,
        )
        self._server = ServerThread(config)

    @property
    def url(self) -> str:
        return self.session.base_url

    def start(self) -> PlaygroundBot:
        self.runtime.start_background()
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()
        self.runtime.shutdown()
        self.session.stop()

    def __enter__(self) -> PlaygroundBot:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def get(self, path: str) -> tuple[int, Any]:
        """GET a path of the bot: (status, decoded JSON or text)."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=30) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as exc:
            status, raw = exc.code, exc.read()
        try:
            return status, json.loads(raw)
        except ValueError:
            return status, raw.decode()

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        """POST JSON to a path of the bot: (status, decoded JSON)."""
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")
