"""Sign in with Slack for the console, against the emulator's OpenID Connect endpoints."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import pytest

from playground.emulator import SlackEmulator
from tests.conftest import Workspace
from tests.console import (
    CLIENT_ID,
    Browser,
    approve,
    callback_url,
    sign_in,
    start_console_bot,
    start_sign_in,
)
from tests.harness import RunningBot

pytestmark = pytest.mark.scenario

# Every console page (the sign-in pages aside): none answers without a session.
CONSOLE_ROUTES = [
    "/console",
    "/console/",
    "/console/incidents",
    "/console/incidents?status=open&q=db",
    "/console/incidents/1",
    "/console/incidents/1?version=1",
    "/console/incidents/1/postmortem.md",
    "/console/incidents/1/postmortem.html",
    "/console/postmortems",
    "/console/insights",
    "/console/insights.csv",
]


@pytest.fixture
def console(start_bot: Callable[..., RunningBot], slack: SlackEmulator) -> RunningBot:
    return start_console_bot(start_bot, slack)


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_sign_in_with_slack(
    console: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    browser = Browser()
    login = start_sign_in(browser, console, next_path="/console/postmortems")
    assert login.status_code == 303
    authorize = login.headers["location"]
    assert authorize.startswith(slack.url + "/openid/connect/authorize?")
    query = _query(authorize)
    assert query["client_id"] == CLIENT_ID
    assert query["redirect_uri"] == callback_url(console)
    assert query["response_type"] == "code"
    assert set(query["scope"].split(",")) == {"openid", "profile", "email"}
    assert query["team"] == slack.team_id
    assert len(query["state"]) >= 32 and len(query["nonce"]) >= 32
    signin_cookie = browser.set_cookies[-1]["incident_console_signin"]
    assert signin_cookie["httponly"] and signin_cookie["secure"]
    assert signin_cookie["samesite"].lower() == "lax" and signin_cookie["path"] == "/console"

    callback = approve(browser, slack, authorize, workspace.alice)
    assert callback.startswith(callback_url(console) + "?")
    assert _query(callback)["state"] == query["state"]
    done = browser.get(callback)
    assert done.status_code == 303 and done.headers["location"] == "/console/postmortems"
    session = next(c for c in browser.set_cookies if "incident_console" in c)["incident_console"]
    assert session["httponly"] and session["secure"] and session["samesite"].lower() == "lax"
    assert session["path"] == "/console" and int(session["max-age"]) == 12 * 3600
    assert "incident_console_signin" not in browser.cookies  # a state is used once

    page = browser.get(console.base_url + "/console/postmortems")
    assert page.status_code == 200 and "Alice Archer" in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert [c.method for c in slack.calls if c.method.startswith("openid")] == [
        "openid.connect.token",
        "openid.connect.userInfo",
    ]

    # The same state cannot be replayed (the browser no longer holds it).
    again = browser.get(callback)
    assert again.status_code == 400

    out = browser.post(console.base_url + "/console/logout")
    assert out.status_code == 200 and "Signed out" in out.text
    assert "incident_console" not in browser.cookies
    after = browser.get(console.base_url + "/console/incidents")
    assert after.status_code == 303 and after.headers["location"].startswith("/console/login")


@pytest.mark.parametrize("path", CONSOLE_ROUTES)
def test_console_route_redirects_to_sign_in_without_a_session(
    console: RunningBot, workspace: Workspace, path: str
) -> None:
    browser = Browser()
    answer = browser.get(console.base_url + path)
    if answer.status_code in (307, 308):  # /console -> /console/ (a slash, no page)
        answer = browser.get(str(answer.next_request.url) if answer.next_request else "")
    assert answer.status_code == 303, path
    assert answer.headers["location"].startswith("/console/login?next=%2Fconsole"), path
    assert "Incident" not in answer.text  # nothing of the page itself


def test_forged_session_cookie_is_no_session(console: RunningBot, workspace: Workspace) -> None:
    browser = Browser()
    browser.cookies["incident_console"] = "eyJ1IjoiVTEifQ.forged.signature"
    answer = browser.get(console.base_url + "/console/incidents")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def test_callback_with_another_state_is_refused(
    console: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    browser = Browser()
    login = start_sign_in(browser, console)
    callback = approve(browser, slack, login.headers["location"], workspace.alice)
    code = _query(callback)["code"]
    forged = browser.get(f"{callback_url(console)}?code={code}&state=not-the-state")
    assert forged.status_code == 400 and "not started in this browser" in forged.text
    assert "incident_console" not in browser.cookies
    # No browser state at all (a callback link sent to someone): refused too.
    stranger = Browser()
    assert stranger.get(callback).status_code == 400
    assert "incident_console" not in stranger.cookies
    assert not slack.calls_to("openid.connect.token")  # refused before asking Slack


def test_code_from_another_sign_in_fails_the_nonce_check(
    console: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    victim, attacker = Browser(), Browser()
    victim_login = start_sign_in(victim, console)
    attacker_login = start_sign_in(attacker, console)
    attacker_callback = approve(attacker, slack, attacker_login.headers["location"], workspace.bob)
    victim_state = _query(victim_login.headers["location"])["state"]
    code = _query(attacker_callback)["code"]
    swapped = victim.get(f"{callback_url(console)}?code={code}&state={victim_state}")
    assert swapped.status_code == 400 and "not started in this browser" in swapped.text
    assert "incident_console" not in victim.cookies
    assert slack.calls_to("openid.connect.token")[-1].response["ok"] is True  # Slack said yes


def test_forged_code_is_refused(
    console: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    browser = Browser()
    login = start_sign_in(browser, console)
    state = _query(login.headers["location"])["state"]
    answer = browser.get(f"{callback_url(console)}?code=123.forged&state={state}")
    assert answer.status_code == 400 and "did not accept this sign-in" in answer.text
    assert slack.calls_to("openid.connect.token")[-1].response["error"] == "invalid_code"
    assert "incident_console" not in browser.cookies


def test_only_members_of_the_workspace_get_in(
    console: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    slack.oidc.set_user_team(workspace.carol, "T0OTHER001")
    browser = Browser()
    login = start_sign_in(browser, console)
    answer = browser.get(approve(browser, slack, login.headers["location"], workspace.carol))
    assert answer.status_code == 400 and "Only members of our Slack workspace" in answer.text
    assert "incident_console" not in browser.cookies

    slack.ws.users[workspace.bob]["is_restricted"] = True  # a guest
    browser = Browser()
    login = start_sign_in(browser, console)
    answer = browser.get(approve(browser, slack, login.headers["location"], workspace.bob))
    assert answer.status_code == 400 and "Guests" in answer.text

    assert sign_in(console, slack, workspace.alice).cookies["incident_console"]


def test_cancelled_and_open_redirects(
    console: RunningBot, slack: SlackEmulator, workspace: Workspace
) -> None:
    browser = Browser()
    login = start_sign_in(browser, console)
    callback = approve(browser, slack, login.headers["location"], "cancel")
    answer = browser.get(callback)
    assert answer.status_code == 400 and "cancelled" in answer.text

    for target in ("https://evil.example/", "//evil.example/", "/elsewhere"):
        browser = Browser()
        login = start_sign_in(browser, console, next_path=target)
        done = browser.get(approve(browser, slack, login.headers["location"], workspace.alice))
        assert done.headers["location"] == "/console/incidents", target


def test_console_is_off_without_client_id(bot: RunningBot) -> None:
    answer = Browser().get(bot.base_url + "/console/incidents")
    assert answer.status_code == 404
