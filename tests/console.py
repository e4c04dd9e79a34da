"""Console scenarios: a bot with Sign in with Slack, and a browser that signs in through the
emulator's consent page (real HTTP all the way: bot -> emulator -> bot)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urljoin

import httpx

from playground.emulator import SlackEmulator
from tests.harness import RunningBot

CLIENT_ID = "1000000001.2000000002"
CLIENT_SECRET = "console-client-secret"
SESSION_SECRET = "a-console-session-secret-of-more-than-32-characters"


def console_settings(**overrides: Any) -> dict[str, Any]:
    """Settings overrides that turn the console on."""
    return {
        "slack_client_id": CLIENT_ID,
        "slack_client_secret": CLIENT_SECRET,
        "console_session_secret": SESSION_SECRET,
        **overrides,
    }


def start_console_bot(
    start_bot: Callable[..., RunningBot], slack: SlackEmulator, **overrides: Any
) -> RunningBot:
    """Start the bot with the console on, and register its client with the emulator."""
    bot = start_bot(**console_settings(**overrides))
    slack.oidc.register_client(CLIENT_ID, CLIENT_SECRET, [callback_url(bot)])
    return bot


def callback_url(bot: RunningBot) -> str:
    return bot.base_url + "/console/auth/callback"


class Browser:
    """An HTTP client that keeps cookies the way a browser on a secure origin does (it sends
    Secure cookies to the loopback address, as Chromium does) and follows no redirect by
    itself, so each step of a flow can be checked."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=15, follow_redirects=False)
        self.cookies: dict[str, str] = {}
        self.set_cookies: list[SimpleCookie] = []

    def close(self) -> None:
        self.http.close()

    def _remember(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            cookie: SimpleCookie = SimpleCookie()
            cookie.load(header)
            self.set_cookies.append(cookie)
            for name, morsel in cookie.items():
                if morsel["max-age"] == "0" or not morsel.value:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _headers(self, url: str) -> dict[str, str]:
        if "/console" not in url or not self.cookies:
            return {}
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    def get(self, url: str) -> httpx.Response:
        response = self.http.get(url, headers=self._headers(url))
        self._remember(response)
        return response

    def post(self, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        response = self.http.post(url, data=data or {}, headers=self._headers(url))
        self._remember(response)
        return response

    def follow(self, response: httpx.Response, limit: int = 10) -> httpx.Response:
        """Follow redirects (GET) from `response`."""
        for _ in range(limit):
            if response.status_code not in (301, 302, 303, 307, 308):
                return response
            response = self.get(urljoin(str(response.url), response.headers["location"]))
        raise AssertionError("too many redirects")


def consent_forms(page: str) -> dict[str, dict[str, str]]:
    """The emulator's consent page: hidden fields of each form, by the user id it signs in
    (`cancel` for the Cancel button)."""
    forms: dict[str, dict[str, str]] = {}
    for body in re.findall(r"<form[^>]*>(.*?)</form>", page, flags=re.S):
        fields = {
            html.unescape(name): html.unescape(value)
            for name, value in re.findall(
                r'<input type="hidden" name="([^"]*)" value="([^"]*)">', body
            )
        }
        forms[fields.get("user") or "cancel"] = fields
    return forms


def start_sign_in(browser: Browser, bot: RunningBot, next_path: str = "") -> httpx.Response:
    """Go to /console/login; returns the answer (a redirect to Slack's authorize page)."""
    url = bot.base_url + "/console/login" + (f"?next={next_path}" if next_path else "")
    return browser.get(url)


def approve(browser: Browser, slack: SlackEmulator, authorize_url: str, user: str) -> str:
    """On Slack's consent page, continue as `user`; returns the callback URL Slack sends to."""
    page = browser.get(authorize_url)
    assert page.status_code == 200, page.text
    fields = consent_forms(page.text)[user]
    answer = browser.post(slack.url + "/openid/connect/authorize/approve", data=fields)
    assert answer.status_code == 302, answer.text
    return str(answer.headers["location"])


def sign_in(bot: RunningBot, slack: SlackEmulator, user: str) -> Browser:
    """A browser signed in to the console as `user`."""
    browser = Browser()
    login = start_sign_in(browser, bot)
    assert login.status_code == 303, login.text
    callback = approve(browser, slack, login.headers["location"], user)
    done = browser.get(callback)
    assert done.status_code == 303, done.text
    assert "incident_console" in browser.cookies
    return browser
