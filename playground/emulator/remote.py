"""What the driver needs from an emulator, and a client for one running in another process."""

from __future__ import annotations

import json
import urllib.request
from typing import Any, Protocol
from urllib.parse import urlencode


class EmulatorLink(Protocol):
    """What :class:`SlackDriver` uses of an emulator (``SlackEmulator``, ``RemoteEmulator``)."""

    @property
    def team_id(self) -> str: ...

    @property
    def team_domain(self) -> str: ...

    @property
    def app_id(self) -> str: ...

    @property
    def bot_user_id(self) -> str: ...

    def issue_trigger_id(self, user: str | None = None) -> str: ...

    def new_response_url(
        self, *, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str: ...

    def user(self, user_id: str) -> dict[str, Any] | None: ...

    def channel(self, channel_id: str) -> dict[str, Any] | None: ...


class RemoteEmulator:
    """Talks to ``python -m playground.emulator serve`` through its ``/_emulator/`` control API."""

    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        base = url.rstrip("/")
        if base.endswith("/api"):
            base = base[: -len("/api")]
        self.url = base
        self.timeout = timeout
        self.info = self._call("GET", "info")

    def _call(
        self, verb: str, action: str, body: dict[str, Any] | None = None, **query: Any
    ) -> dict[str, Any]:
        args = {k: v for k, v in query.items() if v is not None}
        url = f"{self.url}/_emulator/{action}" + (f"?{urlencode(args)}" if args else "")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            url, data=data, method=verb, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=self.timeout) as response:
            result: dict[str, Any] = json.loads(response.read())
        return result

    @property
    def team_id(self) -> str:
        return str(self.info["team_id"])

    @property
    def team_domain(self) -> str:
        return str(self.info["team_domain"])

    @property
    def app_id(self) -> str:
        return str(self.info["api_app_id"])

    @property
    def bot_user_id(self) -> str:
        return str(self.info["bot_user_id"])

    def issue_trigger_id(self, user: str | None = None) -> str:
        return str(self._call("POST", "trigger_id", {"user": user})["trigger_id"])

    def new_response_url(
        self, *, channel: str | None = None, user: str | None = None, message_ts: str | None = None
    ) -> str:
        body = {"channel": channel, "user": user, "message_ts": message_ts}
        return str(self._call("POST", "response_url", body)["response_url"])

    def _find(self, kind: str, ref: str) -> dict[str, Any] | None:
        for item in self.info[kind]:
            if ref in (item["id"], item["name"], f"#{item['name']}"):
                return dict(item)
        return None

    def user(self, user_id: str) -> dict[str, Any] | None:
        return self._find("users", user_id)

    def channel(self, channel_id: str) -> dict[str, Any] | None:
        return self._find("channels", channel_id)

    def responses(self, since: float = 0.0) -> list[dict[str, Any]]:
        return list(self._call("GET", "responses", since=since)["responses"])

    def calls(self, since: float = 0.0, method: str | None = None) -> list[dict[str, Any]]:
        return list(self._call("GET", "calls", since=since, method=method)["calls"])

    def messages(self, channel: str, since: str = "0") -> list[dict[str, Any]]:
        return list(self._call("GET", "messages", channel=channel, since=since)["messages"])
