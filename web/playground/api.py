"""The playground page and its JSON API under /playground (playground mode only).

Each POST is something a person does in Slack; it goes through the playground's driver as
Slack would send it (signed, over HTTP, to this same server's /slack/events). GETs read the
emulator's state (playground/snapshot.py) for the page to poll.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from playground import snapshot
from playground.emulator import DriverResult
from playground.emulator.errors import SlackError
from web.playground import is_loopback

if TYPE_CHECKING:
    from web.playground.startup import PlaygroundSession

STATIC = Path(__file__).parent / "static"
SAMPLES = Path(__file__).parent / "samples"
SAMPLE_ALERTS = {
    "alertmanager": "alertmanager_firing.json",
    "grafana": "grafana_firing.json",
    "pagerduty": "pagerduty_triggered.json",
}
# The app's shortcuts (manifest.yml, features.shortcuts): (callback_id, type, name).
SHORTCUTS = (
    ("declare_incident", "global", "Declare incident"),
    ("declare_incident_from_message", "message", "Declare incident"),
    ("add_to_timeline", "message", "Add to incident timeline"),
    ("create_action_item", "message", "Create action item"),
)
FILES = {
    "app.js": "text/javascript",
    "blocks.js": "text/javascript",
    "panels.js": "text/javascript",
    "style.css": "text/css",
}


class BadInput(Exception):
    """A request the page should not have sent: answered 400 with the reason."""


def _str(body: dict[str, Any], key: str, required: bool = True) -> str:
    value = body.get(key)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise BadInput(f"{key} is required")
    return value


def typed(text: str) -> str:
    """What Slack's client sends for typed text: &, < and > as entities (mentions aside)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _result(result: DriverResult) -> dict[str, Any]:
    return {"status": result.status, "answer": result.json, "view_errors": result.view_errors}


class PlaygroundApi:
    """The handlers; every one runs its blocking work in a thread."""

    def __init__(self, session: PlaygroundSession) -> None:
        self.session = session
        self.world = session.world

    def _user(self, body: dict[str, Any]) -> str:
        user = _str(body, "user")
        if user not in self.world.people.values():
            raise BadInput("user must be one of the playground's people")
        return user

    def _message(self, channel: str, ts: str, user: str) -> tuple[dict[str, Any], bool]:
        message = self.world.slack.message(channel, ts)
        if message is not None:
            return message, False
        for ephemeral in self.world.slack.ephemerals(channel, user):
            if ephemeral["ts"] == ts:
                return ephemeral, True
        raise BadInput(f"no message {ts} in {channel}")

    # --- what people do ----------------------------------------------------------------------

    def send(self, body: dict[str, Any]) -> dict[str, Any]:
        user, channel = self._user(body), _str(body, "channel")
        text = typed(_str(body, "text").strip())
        thread_ts = _str(body, "thread_ts", required=False) or None
        driver = self.world.driver
        if text.startswith("/"):
            command, _, rest = text.partition(" ")
            if command != "/incident":
                raise BadInput(f"{command} is not a command of this app: try /incident help")
            rest = self.world.mentions(rest.strip(), command=True)
            result = driver.slash_command(rest, user=user, channel=channel)
            self.world.show_answer(user, channel, result.json)
            return _result(result)
        text = self.world.mentions(text, command=False)
        ts = driver.user_posts(user, channel, text, thread_ts=thread_ts)
        return {"ts": ts}

    def react(self, body: dict[str, Any]) -> dict[str, Any]:
        user, channel, ts = self._user(body), _str(body, "channel"), _str(body, "ts")
        emoji = _str(body, "emoji").strip(":")
        driver = self.world.driver
        if body.get("remove"):
            return _result(driver.user_unreacts(user, channel, ts, emoji))
        return _result(driver.user_reacts(user, channel, ts, emoji))

    def action(self, body: dict[str, Any]) -> dict[str, Any]:
        user = self._user(body)
        action_id = _str(body, "action_id")
        block_id = _str(body, "block_id", required=False) or None
        value = body.get("value")
        driver = self.world.driver
        view_id = _str(body, "view_id", required=False)
        if view_id:
            view = self.world.slack.view(view_id)
            if view is None:
                raise BadInput(f"no view {view_id}")
            state = body.get("state") if isinstance(body.get("state"), dict) else None
            result = driver.block_actions(
                action_id,
                user=user,
                view=view,
                value=value,
                block_id=block_id,
                state_values=state,
            )
        else:
            channel, ts = _str(body, "channel"), _str(body, "ts")
            message, ephemeral = self._message(channel, ts, user)
            result = driver.block_actions(
                action_id,
                user=user,
                message=message,
                channel=channel,
                value=value,
                block_id=block_id,
                ephemeral=ephemeral,
            )
        return _result(result)

    def submit(self, body: dict[str, Any]) -> dict[str, Any]:
        user, view_id = self._user(body), _str(body, "view_id")
        view = self.world.slack.view(view_id)
        if view is None:
            raise BadInput(f"no view {view_id}")
        values = body.get("values") if isinstance(body.get("values"), dict) else {}
        return _result(self.world.driver.view_submission(view, values, user=user))

    def close(self, body: dict[str, Any]) -> dict[str, Any]:
        user, view_id = self._user(body), _str(body, "view_id")
        view = self.world.slack.view(view_id)
        if view is None:
            raise BadInput(f"no view {view_id}")
        if view.get("notify_on_close"):
            return _result(self.world.driver.view_closed(view, user=user))
        self.world.slack.close_view(user, view_id)
        return {"status": 200}

    def shortcut(self, body: dict[str, Any]) -> dict[str, Any]:
        user, callback_id = self._user(body), _str(body, "callback_id")
        kinds = {cid: kind for cid, kind, _ in SHORTCUTS}
        if callback_id not in kinds:
            raise BadInput(f"no shortcut {callback_id}")
        driver = self.world.driver
        if kinds[callback_id] == "global":
            return _result(driver.global_shortcut(callback_id, user=user))
        channel, ts = _str(body, "channel"), _str(body, "ts")
        message, _ = self._message(channel, ts, user)
        return _result(
            driver.message_shortcut(callback_id, user=user, channel=channel, message=message)
        )

    def home(self, body: dict[str, Any]) -> dict[str, Any]:
        return _result(self.world.driver.app_home_opened(self._user(body)))

    def join(self, body: dict[str, Any]) -> dict[str, Any]:
        user, channel = self._user(body), _str(body, "channel")
        return _result(self.world.driver.user_joins(user, channel))

    def alert(self, body: dict[str, Any]) -> dict[str, Any]:
        source = _str(body, "source")
        if source not in SAMPLE_ALERTS:
            raise BadInput(f"no sample alert for {source}: {', '.join(SAMPLE_ALERTS)}")
        payload = (SAMPLES / SAMPLE_ALERTS[source]).read_bytes()
        request = urllib.request.Request(
            f"{self.session.base_url}/hooks/{source}",
            data=payload,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "Authorization": f"Bearer {self.session.alert_token}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode()
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode()
        self.world.requests.add_raw(f"POST /hooks/{source}", json.loads(payload), status, text)
        return {"status": status, "answer": text}

    # --- what the page reads -----------------------------------------------------------------

    def outside(self) -> dict[str, Any]:
        return {
            "mail": self.world.mailbox.all(),
            "sms": self.world.providers.all_texts(),
            "social": self.world.providers.all_posts(),
        }

    def config(self) -> dict[str, Any]:
        base = self.session.base_url
        return {
            "shortcuts": [{"callback_id": c, "type": t, "name": n} for c, t, n in SHORTCUTS],
            "alerts": list(SAMPLE_ALERTS),
            "links": {"status_page": base + "/status", "console": base + "/console"},
        }


def playground_routes(session: PlaygroundSession) -> list[BaseRoute]:
    """/playground (the page, its static files) and /playground/api/... (JSON)."""
    api = PlaygroundApi(session)

    def guarded(
        handler: Callable[[Request], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            client = request.client.host if request.client else ""
            if not session.open_to_all and not is_loopback(client):
                return JSONResponse({"error": "the playground answers loopback only"}, 403)
            return await handler(request)

        return endpoint

    def post(fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[..., Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                body = json.loads(await request.body() or b"{}")
                if not isinstance(body, dict):
                    raise BadInput("send a JSON object")
                return JSONResponse(await run_in_threadpool(fn, body))
            except (BadInput, SlackError, ValueError, KeyError) as exc:
                return JSONResponse({"error": str(exc)}, status_code=400)

        return guarded(endpoint)

    async def state(request: Request) -> Response:
        q = request.query_params
        user = q.get("user") or session.world.people["iris"]
        if user not in session.world.people.values():
            return JSONResponse({"error": "unknown user"}, status_code=400)
        found = await run_in_threadpool(
            snapshot.snapshot, session.world, user, q.get("channel"), q.get("thread")
        )
        return JSONResponse(found)

    async def log(request: Request) -> Response:
        q = request.query_params
        try:
            after = [int(q.get(f"after_{k}", 0)) for k in ("call", "request", "response")]
        except ValueError:
            return JSONResponse({"error": "after_call, _request, _response are numbers"}, 400)
        found = await run_in_threadpool(snapshot.log, session.world, *after)
        return JSONResponse(found)

    async def get_json(request: Request) -> Response:
        name = request.path_params["name"]
        reads = {"outside": api.outside, "config": api.config}
        if name not in reads:
            return JSONResponse({"error": f"no {name}"}, status_code=404)
        return JSONResponse(await run_in_threadpool(reads[name]))

    async def file(request: Request) -> Response:
        file_id = request.query_params.get("id", "")
        found = session.world.slack.file(file_id)
        if found is None:
            return JSONResponse({"error": f"no file {file_id}"}, status_code=404)
        content = session.world.slack.file_content(file_id).decode("utf-8", "replace")
        return JSONResponse({"title": found.get("title") or found.get("name"), "content": content})

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in FILES:
            return Response("not found", status_code=404)
        return FileResponse(STATIC / name, media_type=FILES[name])

    async def slash(request: Request) -> Response:
        return RedirectResponse("/playground")

    actions = {
        "send": api.send,
        "react": api.react,
        "action": api.action,
        "submit": api.submit,
        "close": api.close,
        "shortcut": api.shortcut,
        "home": api.home,
        "join": api.join,
        "alert": api.alert,
    }
    routes: list[BaseRoute] = [
        Route("/playground", guarded(page), methods=["GET"]),
        Route("/playground/", guarded(slash), methods=["GET"]),
        Route("/playground/static/{name}", guarded(static), methods=["GET"]),
        Route("/playground/api/state", guarded(state), methods=["GET"]),
        Route("/playground/api/log", guarded(log), methods=["GET"]),
        Route("/playground/api/file", guarded(file), methods=["GET"]),
        Route("/playground/api/{name:str}", guarded(get_json), methods=["GET"]),
    ]
    routes += [
        Route(f"/playground/api/{n}", post(fn), methods=["POST"]) for n, fn in actions.items()
    ]
    return routes
