"""``SlackEmulator``: a stateful Slack Web API server on loopback, for tests.

Routes (all on one port):

- ``/api/<method>``: the Web API (any of ``WebClient``'s encodings; token as Bearer or param);
- ``/response/<id>``: ``response_url`` endpoints handed out by :meth:`new_response_url`;
- ``/upload/v1/<file_id>``: upload URLs from ``files.getUploadURLExternal``;
- ``/files-pri/<team>-<file_id>/...``: ``url_private`` downloads (Bearer token required);
- ``/link/?ticket=...``: Socket Mode's WebSocket, from ``apps.connections.open`` (see
  ``socket_mode.py``);
- ``/openid/connect/...``: Sign in with Slack's authorize page and keys (see ``oidc.py``);
- ``/_emulator/...``: a small control API for the command line (see ``control.py``).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from typing import Any

from . import control, hooks, oidc
from .actions import UserActions
from .errors import SlackError
from .faults import Fault, Faults, RateLimiter
from .methods import NO_AUTH, REGISTRY
from .params import Params, parse_multipart, parse_params
from .recording import Call, CallLog, wait_until
from .socket_mode import SocketHub, open_connection
from .state import TEAM_ID, Workspace
from .transport import EmulatorServer, HttpRequest, HttpResponse

OIDC_METHODS = frozenset({"openid.connect.token", "openid.connect.userInfo"})


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


class SlackEmulator(UserActions):
    """A fake Slack workspace served over HTTP. Start it, point ``WebClient`` at ``api_url``."""

    def __init__(
        self,
        bot_token: str = "xoxb-test",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        team_id: str = TEAM_ID,
        team_name: str = "Emulated Workspace",
        team_domain: str = "emulated",
        bot_user_id: str = "U0BOT00001",
        bot_id: str = "B0BOT00001",
        app_id: str = "A0APP00001",
        bot_name: str = "incident-bot",
        extra_tokens: tuple[str, ...] = (),
        app_tokens: tuple[str, ...] = (),
    ) -> None:
        self.ws = Workspace(
            bot_token=bot_token,
            team_id=team_id,
            team_name=team_name,
            team_domain=team_domain,
            bot_user_id=bot_user_id,
            bot_id=bot_id,
            app_id=app_id,
            bot_name=bot_name,
        )
        self.tokens = {bot_token, *extra_tokens}
        self.app_tokens = set(app_tokens)  # app-level tokens: apps.connections.open only
        self.sockets = SocketHub(app_id)
        self.host = host
        self.port = port
        self.faults = Faults()
        self.rate_limits = RateLimiter()
        self.oidc = oidc.OidcProvider()
        self._log = CallLog()
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SlackEmulator:
        if self._server is not None:
            return self
        self._server = EmulatorServer((self.host, self.port), self.handle, self._upgrade)
        self.port = int(self._server.server_address[1])
        self.ws.base_url = self.url
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> SlackEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_url(self) -> str:
        """The ``base_url`` for ``WebClient`` (with its trailing slash)."""
        return f"{self.url}/api/"

    def reset(self) -> None:
        """Forget state, faults, latency, rate limits and calls; keep the server running."""
        self.ws.clear()
        self.faults.clear()
        self.rate_limits.reset()
        self.sockets.reset()
        self.oidc.clear()
        self._log.clear()

    # ------------------------------------------------------------------ faults

    def fail(
        self,
        method: str,
        *,
        error: str | None = None,
        status: int = 200,
        times: int = 1,
        retry_after: float | None = None,
    ) -> None:
        """Make the next ``times`` calls to ``method`` fail.

        ``status=200``: ``{"ok": false, "error": error}``; ``429``: HTTP 429 with ``Retry-After``
        (default 1 s) and ``ratelimited``; ``500``/``503``/...: that HTTP status. ``method`` may
        also be ``"response_url"`` or ``"upload"`` for those endpoints.
        """
        if times < 1:
            raise ValueError("times must be >= 1")
        self.faults.add(method, Fault(error, status, times, retry_after))

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        """Delay every call (or one method's) by ``seconds``; 0 removes the delay."""
        self.faults.set_latency(seconds, method)

    def enable_rate_limits(self, enabled: bool = True) -> None:
        """Apply Slack's tiers (see ``faults.METHOD_TIERS``); tune via ``self.rate_limits``."""
        self.rate_limits.enabled = enabled

    def clear_faults(self) -> None:
        self.faults.clear()

    # ------------------------------------------------------------------ recorded calls

    @property
    def calls(self) -> list[Call]:
        return self._log.all()

    def calls_to(self, method: str) -> list[Call]:
        return self._log.to(method)

    def calls_started(self, method: str) -> list[dict[str, Any]]:
        """Parameters of calls to ``method`` that arrived, including those not answered yet
        (still in their latency): what an app killed now has asked but not heard back."""
        return self._log.started(method)

    def clear_calls(self) -> None:
        self._log.clear()

    def wait_for(
        self,
        predicate_or_method: str | Callable[[], Any],
        timeout: float = 5.0,
        *,
        count: int = 1,
        interval: float = 0.01,
    ) -> Any:
        """Wait for ``count`` calls to a method (returns the last) or a truthy predicate()."""
        if isinstance(predicate_or_method, str):
            method = predicate_or_method

            def check() -> Any:
                found = self.calls_to(method)
                return found[-1] if len(found) >= count else None

            def describe() -> str:
                seen = [c.method for c in self.calls]
                return f"{count} call(s) to {method}; calls so far: {seen}"

            return wait_until(check, timeout=timeout, interval=interval, describe=describe)
        predicate = predicate_or_method
        return wait_until(
            predicate, timeout=timeout, interval=interval, describe=lambda: repr(predicate)
        )

    # ------------------------------------------------------------------ HTTP

    def handle(self, req: HttpRequest) -> HttpResponse:
        path = req.path
        if path.startswith("/api/"):
            return self._api(req, path[len("/api/") :])
        if path.startswith("/response/"):
            return self._hook(req, path[len("/response/") :])
        if path.startswith("/upload/v1/"):
            return self._upload(req, path[len("/upload/v1/") :])
        if path.startswith("/files-pri/"):
            return self._download(req, path[len("/files-pri/") :])
        if path.startswith("/openid/connect/"):
            return oidc.handle_http(self, req, path[len("/openid/connect/") :])
        if path.startswith("/_emulator/"):
            return control.handle(self, req, path[len("/_emulator/") :])
        return HttpResponse.text(404, "not found")

    def _api(self, req: HttpRequest, method: str) -> HttpResponse:
        at = time.time()
        token = _bearer(req.headers.get("authorization"))
        try:
            params = parse_params(req.headers.get("content-type", ""), req.body, req.query)
        except SlackError as exc:
            params = {}
            headers: dict[str, str] = {}
            status, body = exc.status, json.dumps(exc.body()).encode()
        else:
            form_token = params.pop("token", None)
            token = token or (str(form_token) if form_token else None)
            self._log.start(method, params)
            delay = self.faults.latency(method)
            if delay > 0:
                time.sleep(delay)
            if method in OIDC_METHODS:
                status, headers, body = self._oidc(method, params, token, req)
            else:
                status, headers, body = self._dispatch(method, params, token)
        self._log.add(Call(method, params, token, at, status, json.loads(body)))
        return HttpResponse.json(status, body, headers)

    def _upgrade(self, sock: Any, rfile: Any, wfile: Any, req: HttpRequest) -> None:
        if req.path.rstrip("/") != "/link":
            wfile.write(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
            return
        key = req.headers.get("sec-websocket-key", "")
        self.sockets.serve(sock, rfile, wfile, req.query, key)

    def _dispatch(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "apps.connections.open":
            try:
                result = {
                    "ok": True,
                    **open_connection(self.sockets, self.url, token, self.app_tokens),
                }
                return 200, {}, json.dumps(result).encode()
            except SlackError as exc:
                return exc.status, exc.headers, json.dumps(exc.body()).encode()
        handler = REGISTRY.get(method)
        if handler is None:
            return 404, {}, json.dumps({"ok": False, "error": "unknown_method"}).encode()
        if method not in NO_AUTH:
            if not token:
                return 200, {}, b'{"ok": false, "error": "not_authed"}'
            if token not in self.tokens:
                return 200, {}, b'{"ok": false, "error": "invalid_auth"}'
        fault = self.faults.take(method)
        if fault is not None:
            status, headers, data = fault.answer()
            return status, headers, json.dumps(data).encode()
        retry_after = self.rate_limits.check(method, str(params.get("channel") or ""))
        if retry_after is not None:
            body = b'{"ok": false, "error": "ratelimited"}'
            return 429, {"Retry-After": str(retry_after)}, body
        with self.ws.lock:
            try:
                result = {"ok": True, **handler(self.ws, Params(params))}
                return 200, {}, json.dumps(result).encode()
            except SlackError as exc:
                return exc.status, exc.headers, json.dumps(exc.body()).encode()

    def _oidc(
        self, method: str, params: dict[str, Any], token: str | None, req: HttpRequest
    ) -> tuple[int, dict[str, str], bytes]:
        """Sign in with Slack's methods: the client's credentials or the person's token."""
        fault = self.faults.take(method)
        if fault is not None:
            status, headers, data = fault.answer()
            return status, headers, json.dumps(data).encode()
        try:
            if method == "openid.connect.token":
                result = oidc.token(self, params, req.headers.get("authorization"))
            else:
                result = oidc.user_info(self, token)
        except SlackError as exc:
            return exc.status, exc.headers, json.dumps(exc.body()).encode()
        return 200, {}, json.dumps({"ok": True, **result}).encode()

    def _fault_response(self, name: str) -> HttpResponse | None:
        fault = self.faults.take(name)
        if fault is None:
            return None
        status, headers, data = fault.answer()
        return HttpResponse.json(status, data, headers)

    def _hook(self, req: HttpRequest, hook_id: str) -> HttpResponse:
        faulted = self._fault_response("response_url")
        if faulted is not None:
            return faulted
        ctype = req.headers.get("content-type", "application/json")
        status, body = hooks.post(self.ws, hook_id, ctype, req.body)
        return HttpResponse.json(status, body)

    def _upload(self, req: HttpRequest, file_id: str) -> HttpResponse:
        faulted = self._fault_response("upload")
        if faulted is not None:
            return faulted
        data = req.body
        ctype = req.headers.get("content-type", "")
        if ctype.startswith("multipart/form-data"):
            parts = parse_multipart(ctype, req.body)
            files = [raw for _, raw, filename in parts if filename]
            data = files[0] if files else (parts[0][1] if parts else b"")
        with self.ws.lock:
            if file_id not in self.ws.uploads:
                return HttpResponse.text(404, "file not found")
            self.ws.file_data[file_id] = data
        return HttpResponse.text(200, f"OK - {len(data)}")

    def _download(self, req: HttpRequest, rest: str) -> HttpResponse:
        if _bearer(req.headers.get("authorization")) not in self.tokens:
            return HttpResponse.text(403, "forbidden")
        file_id = rest.split("/", 1)[0].rsplit("-", 1)[-1]
        with self.ws.lock:
            meta = self.ws.files.get(file_id)
            data = self.ws.file_data.get(file_id)
        if meta is None or data is None:
            return HttpResponse.text(404, "not found")
        return HttpResponse(200, data, {"Content-Type": str(meta["mimetype"])})
