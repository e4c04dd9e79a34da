"""``SlackDriver``: plays Slack's part towards the app, with signed HTTP requests.

It sends slash commands, interactions and Events API callbacks the way Slack does (v0 request
signing, form or JSON bodies, retry headers), and keeps the emulator's state consistent with
what it sends (a posted message is stored before its ``message`` event goes out).
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import json
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from . import payloads
from .people import PeopleMixin
from .remote import EmulatorLink, RemoteEmulator
from .results import DriverResult
from .server import SlackEmulator

__all__ = ["DriverResult", "EmulatorLink", "RemoteEmulator", "SlackDriver"]


@dataclass
class _Options:
    bad_signature: bool = False
    timestamp_skew: int = 0
    timeout: float = 10.0


class SlackDriver(PeopleMixin):
    """Send what Slack sends to the app at ``app_url``, signed with ``signing_secret``."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        emulator: EmulatorLink | None = None,
        *,
        team_id: str | None = None,
        team_domain: str | None = None,
        api_app_id: str | None = None,
        enterprise_id: str | None = None,
        verification_token: str = "legacy-verification-token",
        commands_url: str | None = None,
        interactivity_url: str | None = None,
        events_url: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.app_url = app_url
        self.signing_secret = signing_secret
        self.emulator = emulator
        self.team_id = team_id or (emulator.team_id if emulator else "T0TEAM0001")
        self.team_domain = team_domain or (emulator.team_domain if emulator else "emulated")
        self.api_app_id = api_app_id or (emulator.app_id if emulator else "A0APP00001")
        self.bot_user_id = emulator.bot_user_id if emulator else "U0BOT00001"
        self.enterprise_id = enterprise_id
        self.verification_token = verification_token
        self.commands_url = commands_url or app_url
        self.interactivity_url = interactivity_url or app_url
        self.events_url = events_url or app_url
        self.options = _Options(timeout=timeout)
        self._lock = threading.Lock()
        self._last: DriverResult | None = None

    def with_options(
        self,
        *,
        bad_signature: bool | None = None,
        stale_timestamp: bool | None = None,
        timestamp_skew: int | None = None,
        timeout: float | None = None,
    ) -> SlackDriver:
        """A copy of this driver that signs badly, or with an old (``stale``: -10 min) timestamp."""
        clone = type(self).__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._lock = threading.Lock()
        skew = -600 if stale_timestamp else timestamp_skew
        clone.options = _Options(
            bad_signature=self.options.bad_signature if bad_signature is None else bad_signature,
            timestamp_skew=self.options.timestamp_skew if skew is None else skew,
            timeout=self.options.timeout if timeout is None else timeout,
        )
        return clone

    @property
    def last_result(self) -> DriverResult | None:
        with self._lock:
            return self._last

    # ------------------------------------------------------------------ signing and sending

    def sign(self, body: bytes, timestamp: int) -> str:
        secret = self.signing_secret + ("-wrong" if self.options.bad_signature else "")
        base = f"v0:{timestamp}:".encode() + body
        return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()

    def send(
        self,
        body: bytes | str,
        content_type: str,
        *,
        url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> DriverResult:
        """POST a signed request; any HTTP status comes back as a result (never raises for it)."""
        raw = body.encode() if isinstance(body, str) else body
        timestamp = int(time.time()) + self.options.timestamp_skew
        all_headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(timestamp),
            "X-Slack-Signature": self.sign(raw, timestamp),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
            **(headers or {}),
        }
        request = urllib.request.Request(
            url or self.app_url, data=raw, headers=all_headers, method="POST"
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.options.timeout) as response:
                status, text = response.status, response.read()
                reply_headers = dict(response.headers)
        except urllib.error.HTTPError as exc:
            status, reply_headers, text = exc.code, dict(exc.headers), exc.read()
        elapsed = time.perf_counter() - started
        decoded = text.decode("utf-8", "replace")
        try:
            parsed = json.loads(decoded) if decoded.strip() else None
        except ValueError:
            parsed = None
        result = DriverResult(status, reply_headers, decoded, parsed, elapsed)
        with self._lock:
            self._last = result
        return result

    def _interactive(self, payload: dict[str, Any], **extra: Any) -> DriverResult:
        body = urlencode({"payload": json.dumps(payload)})
        result = self.send(body, "application/x-www-form-urlencoded", url=self.interactivity_url)
        return dataclasses.replace(result, payload=payload, **extra)

    # ------------------------------------------------------------------ context helpers

    def _local(self) -> SlackEmulator:
        if not isinstance(self.emulator, SlackEmulator):
            raise RuntimeError("this needs SlackDriver(..., emulator=<a SlackEmulator>)")
        return self.emulator

    def _trigger(self, user: str) -> str:
        return self.emulator.issue_trigger_id(user) if self.emulator else payloads.event_id()

    def _response_url(self, channel: str | None, user: str, message_ts: str | None = None) -> str:
        if self.emulator is None:
            return f"https://hooks.slack.com/actions/{self.team_id}/0/{payloads.event_id()}"
        return self.emulator.new_response_url(channel=channel, user=user, message_ts=message_ts)

    def _user(self, user: str) -> dict[str, Any]:
        data = self.emulator.user(user) if self.emulator else None
        name = str((data or {}).get("name") or user)
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _channel(self, channel: str) -> dict[str, Any]:
        if channel.startswith("D"):
            return {"id": channel, "name": "directmessage"}
        data = self.emulator.channel(channel) if self.emulator else None
        return {"id": channel, "name": str((data or {}).get("name") or "privategroup")}

    def _team(self) -> dict[str, Any]:
        team: dict[str, Any] = {"id": self.team_id, "domain": self.team_domain}
        if self.enterprise_id:
            team.update({"enterprise_id": self.enterprise_id, "enterprise_name": "Enterprise"})
        return team

    def _base(self, kind: str, user: str) -> dict[str, Any]:
        enterprise = None
        if self.enterprise_id:
            enterprise = {"id": self.enterprise_id, "name": "Enterprise"}
        return {
            "type": kind,
            "team": self._team(),
            "user": self._user(user),
            "api_app_id": self.api_app_id,
            "token": self.verification_token,
            "is_enterprise_install": False,
            "enterprise": enterprise,
        }

    # ------------------------------------------------------------------ slash commands

    def slash_command(
        self, text: str, *, user: str, channel: str, command: str = "/incident"
    ) -> DriverResult:
        """``/command text`` typed by ``user`` in ``channel`` (form-encoded, as Slack sends it)."""
        trigger_id = self._trigger(user)
        response_url = self._response_url(channel, user)
        form = {
            "token": self.verification_token,
            "team_id": self.team_id,
            "team_domain": self.team_domain,
            "channel_id": channel,
            "channel_name": self._channel(channel)["name"],
            "user_id": user,
            "user_name": self._user(user)["name"],
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        if self.enterprise_id:
            form.update({"enterprise_id": self.enterprise_id, "enterprise_name": "Enterprise"})
        form_type = "application/x-www-form-urlencoded"
        result = self.send(urlencode(form), form_type, url=self.commands_url)
        return dataclasses.replace(
            result, payload=form, response_url=response_url, trigger_id=trigger_id
        )

    # ------------------------------------------------------------------ interactions

    def block_actions(
        self,
        action_id: str,
        *,
        user: str,
        message: dict[str, Any] | None = None,
        channel: str | None = None,
        view: dict[str, Any] | None = None,
        value: Any = None,
        block_id: str | None = None,
        action: dict[str, Any] | None = None,
        state_values: dict[str, dict[str, Any]] | None = None,
        ephemeral: bool = False,
    ) -> DriverResult:
        """A click (or selection) on ``action_id`` in a message or a view.

        The element is looked up in ``message``/``view`` blocks to fill the action as Slack does;
        ``value`` sets the button value or the selection, ``action`` overrides fields.
        """
        source = view if view is not None else (message or {})
        act = payloads.action(
            list(source.get("blocks") or []),
            action_id,
            block_id=block_id,
            value=value,
            overrides=action,
        )
        trigger_id = self._trigger(user)
        payload = self._base("block_actions", user)
        payload.update({"trigger_id": trigger_id, "actions": [act]})
        response_url = None
        if view is not None:
            state = payloads.view_state(view, state_values) if state_values else view.get("state")
            payload["view"] = {**view, "state": state or {"values": {}}}
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["state"] = payload["view"]["state"]
        else:
            msg = message or {}
            channel = channel or msg.get("channel")
            if channel is None:
                raise ValueError("block_actions on a message needs channel=")
            ts = msg.get("ts")
            response_url = self._response_url(channel, user, None if ephemeral else ts)
            container: dict[str, Any] = {
                "type": "message",
                "message_ts": ts,
                "channel_id": channel,
                "is_ephemeral": ephemeral,
            }
            if msg.get("thread_ts"):
                container["thread_ts"] = msg["thread_ts"]
            payload.update(
                {
                    "container": container,
                    "channel": self._channel(channel),
                    "state": {"values": {}},
                    "response_url": response_url,
                }
            )
            if not ephemeral:
                payload["message"] = msg
        return self._interactive(payload, trigger_id=trigger_id, response_url=response_url)

    def view_submission(
        self,
        view: dict[str, Any],
        values: dict[str, dict[str, Any]] | None = None,
        *,
        user: str,
    ) -> DriverResult:
        """Submit ``view`` (as the emulator stored it) with ``{block_id: {action_id: value}}``.

        With a local emulator, the modal stack then follows the app's answer (closed, updated,
        pushed, or kept open on ``errors``); invalid views in the answer land in ``view_errors``.
        """
        trigger_id = self._trigger(user)
        payload = self._base("view_submission", user)
        payload.update(
            {
                "trigger_id": trigger_id,
                "view": {**view, "state": payloads.view_state(view, values)},
                "response_urls": [],
            }
        )
        result = self._interactive(payload, trigger_id=trigger_id)
        if isinstance(self.emulator, SlackEmulator) and result.status == 200:
            answer = result.json if isinstance(result.json, dict) else None
            errors = self.emulator.apply_view_submission(user, str(view.get("id")), answer)
            result = dataclasses.replace(result, view_errors=errors)
        return result

    def view_closed(
        self, view: dict[str, Any], *, user: str, is_cleared: bool = False
    ) -> DriverResult:
        """The user closed the modal (Slack sends this only with ``notify_on_close``)."""
        if isinstance(self.emulator, SlackEmulator):
            self.emulator.close_view(user, str(view.get("id")), cleared=is_cleared)
        payload = self._base("view_closed", user)
        payload.update({"view": view, "is_cleared": is_cleared})
        return self._interactive(payload)

    def global_shortcut(self, callback_id: str, *, user: str) -> DriverResult:
        trigger_id = self._trigger(user)
        payload = self._base("shortcut", user)
        payload["user"] = {k: payload["user"][k] for k in ("id", "username", "team_id")}
        payload.update({"callback_id": callback_id, "trigger_id": trigger_id})
        payload["action_ts"] = payloads.action_ts()
        return self._interactive(payload, trigger_id=trigger_id)

    def message_shortcut(
        self, callback_id: str, *, user: str, channel: str, message: dict[str, Any]
    ) -> DriverResult:
        trigger_id = self._trigger(user)
        response_url = self._response_url(channel, user, message.get("ts"))
        payload = self._base("message_action", user)
        payload["user"] = {k: payload["user"][k] for k in ("id", "name", "team_id")}
        payload.update(
            {
                "callback_id": callback_id,
                "trigger_id": trigger_id,
                "action_ts": payloads.action_ts(),
                "channel": self._channel(channel),
                "message_ts": message.get("ts"),
                "message": message,
                "response_url": response_url,
            }
        )
        return self._interactive(payload, trigger_id=trigger_id, response_url=response_url)

    # ------------------------------------------------------------------ Events API

    def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> DriverResult:
        """Deliver ``event`` in an ``event_callback`` envelope (a retry when ``retry_num``)."""
        body = payloads.envelope(
            event,
            team_id=self.team_id,
            api_app_id=self.api_app_id,
            bot_user_id=self.bot_user_id,
            token=self.verification_token,
            event_id_=event_id or payloads.event_id(),
            enterprise_id=self.enterprise_id,
        )
        headers = {}
        if retry_num is not None:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        raw = json.dumps(body)
        result = self.send(raw, "application/json", url=self.events_url, headers=headers)
        return dataclasses.replace(result, payload=body)

    def url_verification(self, challenge: str) -> DriverResult:
        body = {
            "token": self.verification_token,
            "challenge": challenge,
            "type": "url_verification",
        }
        result = self.send(json.dumps(body), "application/json", url=self.events_url)
        return dataclasses.replace(result, payload=body)
