"""Self-tests of the Slack emulator, driven by the real ``slack_sdk.WebClient``."""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from playground.emulator import RemoteEmulator, SlackDriver, SlackEmulator, payloads
from playground.emulator import messages as typed
from playground.emulator.__main__ import main as cli_main

TOKEN = "xoxb-test"
SECRET = "test-signing-secret"


@pytest.fixture(scope="module")
def server() -> Iterator[SlackEmulator]:
    with SlackEmulator(TOKEN) as emu:
        yield emu


@pytest.fixture
def emu(server: SlackEmulator) -> SlackEmulator:
    server.reset()
    return server


@pytest.fixture
def client(emu: SlackEmulator) -> WebClient:
    return WebClient(base_url=emu.api_url, token=TOKEN)


@pytest.fixture
def people(emu: SlackEmulator) -> dict[str, str]:
    return emu.seed_demo()


def error_of(call: Callable[[], Any]) -> dict[str, Any]:
    """The response data of a Web API call that must fail."""
    with pytest.raises(SlackApiError) as info:
        call()
    data: dict[str, Any] = info.value.response.data
    return data


def code(call: Callable[[], Any]) -> str:
    """The error code of a Web API call that must fail."""
    return str(error_of(call)["error"])


def section(text: str = "hi") -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def modal(title: str = "Declare", **extra: Any) -> dict[str, Any]:
    return {"type": "modal", "title": {"type": "plain_text", "text": title}, "blocks": [], **extra}


def raw_post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


# ---------------------------------------------------------------------- transport and auth


def test_encodings_json_form_query_multipart(emu: SlackEmulator, client: WebClient) -> None:
    channel = emu.add_channel("ops")
    client.chat_postMessage(channel=channel, text="json", blocks=[section()])  # JSON body
    client.conversations_history(channel=channel)  # form body
    status, data = raw_post(
        f"{emu.api_url}auth.test?token={TOKEN}", b"", {"Content-Type": "text/plain"}
    )
    assert (status, data["ok"]) == (200, True)  # token in the query string
    form = f"token={TOKEN}&channel={channel}&text=form&blocks=" + json.dumps([section("f")])
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    status, data = raw_post(f"{emu.api_url}chat.postMessage", form.encode(), form_type)
    assert data["ok"] and data["message"]["blocks"][0]["text"]["text"] == "f"
    echoed = client.api_call("api.test", data={"foo": "bar"}, files={"f": b"123"})  # multipart
    assert echoed["args"] == {"foo": "bar"}
    calls = emu.calls
    assert [c.method for c in calls] == [
        "chat.postMessage",
        "conversations.history",
        "auth.test",
        "chat.postMessage",
        "api.test",
    ]
    assert calls[0].token == TOKEN and calls[0].params["blocks"] == [section()]
    assert calls[3].params["blocks"] == [section("f")] and "token" not in calls[3].params
    assert calls[1].params == {"channel": channel}


def test_auth_and_unknown_method(emu: SlackEmulator) -> None:
    assert code(WebClient(base_url=emu.api_url).auth_test) == "not_authed"
    assert error_of(WebClient(base_url=emu.api_url, token="xoxb-no").auth_test) == {
        "ok": False,
        "error": "invalid_auth",
    }
    with pytest.raises(SlackApiError) as info:
        WebClient(base_url=emu.api_url, token=TOKEN).api_call("chat.nonsense")
    assert info.value.response.status_code == 404
    assert info.value.response["error"] == "unknown_method"
    assert emu.calls_to("chat.nonsense")[0].status == 404


def test_identity_and_users(emu: SlackEmulator, client: WebClient, people: dict[str, str]) -> None:
    auth = client.auth_test()
    assert auth["user_id"] == emu.bot_user_id and auth["team_id"] == "T0TEAM0001"
    assert auth["bot_id"] == emu.bot_id and auth["url"].startswith("https://")
    assert client.team_info()["team"]["id"] == "T0TEAM0001"
    alice = client.users_info(user=people["alice"])["user"]
    assert alice["real_name"] == "Alice Archer" and alice["tz"] == "Europe/London"
    assert alice["profile"]["email"] == "alice@example.com" and not alice["is_bot"]
    found = client.users_lookupByEmail(email="bob@example.com")["user"]["id"]
    assert found == people["bob"]
    assert code(lambda: client.users_lookupByEmail(email="x@y.z")) == "users_not_found"
    assert code(lambda: client.users_info(user="U404")) == "user_not_found"
    members = [m["id"] for page in client.users_list(limit=2) for m in page["members"]]
    assert {people["alice"], emu.bot_user_id, "USLACKBOT"} <= set(members)


# ---------------------------------------------------------------------- conversations


def test_usergroup_members(emu: SlackEmulator, client: WebClient, people: dict[str, str]) -> None:
    group = emu.add_usergroup("oncall", [people["alice"], people["bob"]])
    old = emu.add_usergroup("old-team", [people["carol"]], disabled=True)
    assert client.usergroups_users_list(usergroup=group)["users"] == [
        people["alice"],
        people["bob"],
    ]
    emu.set_usergroup_users(group, [people["carol"]])
    assert client.usergroups_users_list(usergroup=group)["users"] == [people["carol"]]
    assert code(lambda: client.usergroups_users_list(usergroup="S0NOPE0001")) == "no_such_subteam"
    assert code(lambda: client.usergroups_users_list(usergroup=old)) == "no_such_subteam"
    assert client.usergroups_users_list(usergroup=old, include_disabled=True)["users"] == [
        people["carol"]
    ]
    assert code(lambda: client.api_call("usergroups.users.list")) == "invalid_arguments"


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", "invalid_name_required"),
        ("Has Caps", "invalid_name_specials"),
        ("a" * 81, "invalid_name_maxlength"),
        ("-_-", "invalid_name_punctuation"),
        ("general", "name_taken"),
    ],
)
def test_create_name_rules(
    client: WebClient, people: dict[str, str], name: str, error: str
) -> None:
    assert code(lambda: client.conversations_create(name=name)) == error


def test_create_private_and_membership(emu: SlackEmulator, client: WebClient) -> None:
    created = client.conversations_create(name="inc-42-db", is_private=True)["channel"]
    assert created["id"].startswith("C") and created["is_private"] and created["is_member"]
    assert emu.members(created["id"]) == [emu.bot_user_id]
    assert emu.channel_by_name("inc-42-db")["id"] == created["id"]  # type: ignore[index]


def test_invite_errors(emu: SlackEmulator, client: WebClient, people: dict[str, str]) -> None:
    alice, bob = people["alice"], people["bob"]
    ch = client.conversations_create(name="inc-1")["channel"]["id"]
    invited = client.conversations_invite(channel=ch, users=[alice, bob])["channel"]
    assert invited["id"] == ch and set(emu.members(ch)) == {emu.bot_user_id, alice, bob}

    def invite(channel: str, users: str) -> str:
        return code(lambda: client.conversations_invite(channel=channel, users=users))

    assert invite(ch, "U404") == "user_not_found"
    assert invite(ch, alice) == "already_in_channel"
    assert invite(ch, emu.bot_user_id) == "cant_invite_self"
    assert invite(emu.add_channel("elsewhere", bot_member=False), alice) == "not_in_channel"
    assert (
        invite(emu.add_channel("secret", private=True, bot_member=False), alice)
        == "channel_not_found"
    )
    assert invite("C404", alice) == "channel_not_found"
    client.conversations_archive(channel=ch)
    assert invite(ch, people["carol"]) == "is_archived"


def test_channel_lifecycle(emu: SlackEmulator, client: WebClient, people: dict[str, str]) -> None:
    ch = client.conversations_create(name="inc-7")["channel"]["id"]
    client.conversations_invite(channel=ch, users=people["alice"])
    assert client.conversations_setTopic(channel=ch, topic="DB down")["channel"]["topic"][
        "value"
    ] == ("DB down")
    client.conversations_setPurpose(channel=ch, purpose="Fix it")
    assert code(lambda: client.conversations_setTopic(channel=ch, topic="x" * 251)) == "too_long"
    renamed = client.conversations_rename(channel=ch, name="inc-7-resolved")["channel"]
    assert renamed["name"] == "inc-7-resolved" and renamed["previous_names"] == ["inc-7"]
    client.conversations_kick(channel=ch, user=people["alice"])
    assert people["alice"] not in client.conversations_members(channel=ch)["members"]
    assert (
        code(lambda: client.conversations_kick(channel=ch, user=emu.bot_user_id))
        == "cant_kick_self"
    )
    client.conversations_archive(channel=ch)
    assert client.conversations_info(channel=ch)["channel"]["is_archived"]
    assert code(lambda: client.chat_postMessage(channel=ch, text="x")) == "is_archived"
    assert code(lambda: client.conversations_archive(channel=ch)) == "already_archived"
    client.conversations_unarchive(channel=ch)
    assert code(lambda: client.conversations_unarchive(channel=ch)) == "not_archived"
    subtypes = [m.get("subtype") for m in client.conversations_history(channel=ch)["messages"]]
    assert {"channel_topic", "channel_purpose", "channel_name", "channel_archive"} <= set(subtypes)
    assert emu.messages(ch) == []  # the helper hides system notices by default
    public = emu.add_channel("lobby", bot_member=False)
    assert client.conversations_join(channel=public)["channel"]["is_member"]
    assert client.conversations_join(channel=public)["warning"] == "already_in_channel"


def test_list_types_and_pagination(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    for i in range(5):
        emu.add_channel(f"c{i}")
    emu.add_channel("mine", private=True)
    emu.add_channel("hidden", private=True, bot_member=False)
    first = client.conversations_list(limit=3)
    assert len(first["channels"]) == 3 and first["response_metadata"]["next_cursor"]
    names = [c["name"] for page in client.conversations_list(limit=3) for c in page["channels"]]
    assert names == ["general", "random", "c0", "c1", "c2", "c3", "c4"]
    private = client.conversations_list(types="private_channel")["channels"]
    assert [c["name"] for c in private] == ["mine"]
    assert code(lambda: client.conversations_list(cursor="bogus")) == "invalid_cursor"


def test_history_threads_and_dms(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    ch = people["general"]
    parent = client.chat_postMessage(channel=ch, text="parent")["ts"]
    replies = [
        client.chat_postMessage(channel=ch, text=f"r{i}", thread_ts=parent) for i in range(3)
    ]
    client.chat_postMessage(channel=ch, text="after")
    history = client.conversations_history(channel=ch)["messages"]
    assert [m["text"] for m in history] == ["after", "parent"]
    assert history[1]["reply_count"] == 3 and history[1]["latest_reply"] == replies[-1]["ts"]
    thread = client.conversations_replies(channel=ch, ts=parent)["messages"]
    assert [m["text"] for m in thread] == ["parent", "r0", "r1", "r2"]
    assert thread[1]["thread_ts"] == parent and thread[1]["parent_user_id"] == emu.bot_user_id
    assert [m["text"] for m in emu.replies(ch, parent)] == ["r0", "r1", "r2"]
    timestamps = [m["ts"] for m in emu.messages(ch, include_replies=True)]
    assert timestamps == sorted(timestamps, key=float) and len(set(timestamps)) == 5
    assert code(lambda: client.conversations_replies(channel=ch, ts="1.0")) == "thread_not_found"
    dm = client.chat_postMessage(channel=people["bob"], text="psst")
    assert dm["channel"].startswith("D") and [m["text"] for m in emu.dms(people["bob"])] == ["psst"]
    opened = client.conversations_open(users=people["bob"])
    assert opened["channel"]["id"] == dm["channel"] and opened["already_open"]


# ---------------------------------------------------------------------- chat


@pytest.mark.filterwarnings("ignore:The top-level `text` argument is missing")
def test_post_message_errors(emu: SlackEmulator, client: WebClient, people: dict[str, str]) -> None:
    ch = people["general"]
    assert code(lambda: client.chat_postMessage(channel=ch)) == "no_text"
    too_long = "x" * 40_001
    assert code(lambda: client.chat_postMessage(channel=ch, text=too_long)) == "msg_too_long"
    hidden = emu.add_channel("secret", private=True, bot_member=False)
    assert code(lambda: client.chat_postMessage(channel=hidden, text="x")) == "channel_not_found"
    public = emu.add_channel("public-not-member", bot_member=False)
    assert client.chat_postMessage(channel=public, text="chat:write.public")["ok"]
    assert code(lambda: client.chat_postMessage(channel="C404", text="x")) == "channel_not_found"


def test_ephemeral_update_delete_permalink(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    ch, alice = people["general"], people["alice"]
    ts = client.chat_postEphemeral(channel=ch, user=alice, text="only you")["message_ts"]
    assert emu.ephemerals(user=alice)[0]["text"] == "only you" and ts
    outsider = emu.add_user("dave")
    assert (
        code(lambda: client.chat_postEphemeral(channel=ch, user=outsider, text="x"))
        == "user_not_in_channel"
    )
    posted = client.chat_postMessage(channel=ch, text="v1")["ts"]
    updated = client.chat_update(channel=ch, ts=posted, text="v2", blocks=[section("v2")])
    assert updated["text"] == "v2" and emu.message(ch, posted)["edited"]  # type: ignore[index]
    assert code(lambda: client.chat_update(channel=ch, ts="1.2", text="x")) == "message_not_found"
    theirs = emu.post_as_user(alice, ch, "mine")["ts"]
    assert (
        code(lambda: client.chat_update(channel=ch, ts=theirs, text="x")) == "cant_update_message"
    )
    assert code(lambda: client.chat_delete(channel=ch, ts=theirs)) == "cant_delete_message"
    link = client.chat_getPermalink(channel=ch, message_ts=posted)["permalink"]
    assert link.endswith(f"/archives/{ch}/p{posted.replace('.', '')}")
    client.chat_delete(channel=ch, ts=posted)
    assert emu.message(ch, posted) is None


def test_reactions_pins_bookmarks(client: WebClient, people: dict[str, str]) -> None:
    ch = people["general"]
    ts = client.chat_postMessage(channel=ch, text="pin me")["ts"]
    client.reactions_add(channel=ch, timestamp=ts, name="eyes")
    assert (
        code(lambda: client.reactions_add(channel=ch, timestamp=ts, name="eyes"))
        == "already_reacted"
    )
    got = client.reactions_get(channel=ch, timestamp=ts)["message"]["reactions"]
    assert got == [{"name": "eyes", "users": ["U0BOT00001"], "count": 1}]
    client.reactions_remove(channel=ch, timestamp=ts, name="eyes")
    assert (
        code(lambda: client.reactions_remove(channel=ch, timestamp=ts, name="eyes"))
        == "no_reaction"
    )
    client.pins_add(channel=ch, timestamp=ts)
    assert code(lambda: client.pins_add(channel=ch, timestamp=ts)) == "already_pinned"
    assert client.pins_list(channel=ch)["items"][0]["message"]["text"] == "pin me"
    client.pins_remove(channel=ch, timestamp=ts)
    assert code(lambda: client.pins_remove(channel=ch, timestamp=ts)) == "no_pin"
    mark = client.bookmarks_add(channel_id=ch, title="Doc", type="link", link="https://x.y")
    bookmark_id = mark["bookmark"]["id"]
    client.bookmarks_edit(channel_id=ch, bookmark_id=bookmark_id, title="Runbook")
    assert [b["title"] for b in client.bookmarks_list(channel_id=ch)["bookmarks"]] == ["Runbook"]
    assert (
        code(lambda: client.bookmarks_add(channel_id=ch, title="x", type="link", link="ftp://x"))
        == "invalid_link"
    )
    client.bookmarks_remove(channel_id=ch, bookmark_id=bookmark_id)
    assert (
        code(lambda: client.bookmarks_remove(channel_id=ch, bookmark_id=bookmark_id)) == "not_found"
    )


# ---------------------------------------------------------------------- Block Kit


def _button(action_id: str = "a") -> dict[str, Any]:
    return {"type": "button", "text": {"type": "plain_text", "text": "Go"}, "action_id": action_id}


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([section()] * 51, "must be less than 51 items [json-pointer:/blocks]"),
        (
            [section("x" * 3001)],
            "must be less than 3001 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f"}] * 11}],
            "must be less than 11 items [json-pointer:/blocks/0/fields]",
        ),
        (
            [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
            "must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]",
        ),
        (
            [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
            "must be less than 151 characters [json-pointer:/blocks/0/text/text]",
        ),
        (
            [{"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}],
            "must be less than 11 items [json-pointer:/blocks/0/elements]",
        ),
        (
            [{"type": "actions", "elements": [_button(f"a{i}") for i in range(26)]}],
            "must be less than 26 items [json-pointer:/blocks/0/elements]",
        ),
        ([{**section(), "block_id": "b" * 256}], "must be less than 256 characters"),
        (
            [{"type": "actions", "elements": [_button("a" * 256)]}],
            "must be less than 256 characters",
        ),
        ([{"type": "sections"}], "unsupported type: sections [json-pointer:/blocks/0/type]"),
    ],
)
def test_message_block_limits(
    client: WebClient, people: dict[str, str], blocks: list[dict[str, Any]], message: str
) -> None:
    data = error_of(
        lambda: client.chat_postMessage(channel=people["general"], text="t", blocks=blocks)
    )
    assert data["error"] == "invalid_blocks"
    assert any(message in line for line in data["response_metadata"]["messages"])
    assert all(line.startswith("[ERROR] ") for line in data["response_metadata"]["messages"])


@pytest.mark.parametrize(
    ("view", "message"),
    [
        (
            modal(blocks=[section()] * 101),
            "must be less than 101 items [json-pointer:/view/blocks]",
        ),
        (modal("t" * 25), "must be less than 25 characters [json-pointer:/view/title/text]"),
        (
            modal(submit={"type": "plain_text", "text": "s" * 25}),
            "must be less than 25 characters [json-pointer:/view/submit/text]",
        ),
        (
            modal(close={"type": "plain_text", "text": "c" * 25}),
            "must be less than 25 characters [json-pointer:/view/close/text]",
        ),
        ({"type": "modal", "blocks": []}, "missing required field: title"),
        ({**modal(), "type": "dialog"}, "must be a valid enum value [json-pointer:/view/type]"),
    ],
)
def test_view_limits(
    emu: SlackEmulator, client: WebClient, view: dict[str, Any], message: str
) -> None:
    data = error_of(lambda: client.views_open(trigger_id=emu.issue_trigger_id(), view=view))
    assert data["error"] == "invalid_arguments"
    assert any(message in line for line in data["response_metadata"]["messages"])


def test_home_allows_100_blocks(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    home = {"type": "home", "blocks": [section()] * 100}
    published = client.views_publish(user_id=people["alice"], view=home)["view"]
    assert emu.home(people["alice"])["id"] == published["id"]  # type: ignore[index]
    too_many = {"type": "home", "blocks": [section()] * 101}
    assert (
        code(lambda: client.views_publish(user_id=people["alice"], view=too_many))
        == "invalid_arguments"
    )


# ---------------------------------------------------------------------- views and triggers


def test_trigger_ids_single_use_and_expiry(emu: SlackEmulator, client: WebClient) -> None:
    trigger = emu.issue_trigger_id("U1")
    client.views_open(trigger_id=trigger, view=modal())
    assert (
        code(lambda: client.views_open(trigger_id=trigger, view=modal())) == "exchanged_trigger_id"
    )
    assert (
        code(lambda: client.views_open(trigger_id="1.2.nope", view=modal())) == "invalid_trigger_id"
    )
    emu.trigger_ttl = 0.05
    stale = emu.issue_trigger_id("U1")
    time.sleep(0.1)
    assert code(lambda: client.views_open(trigger_id=stale, view=modal())) == "expired_trigger_id"


def test_modal_stack_update_and_hash(emu: SlackEmulator, client: WebClient) -> None:
    user = "U0PERSON01"
    root = client.views_open(
        trigger_id=emu.issue_trigger_id(user), view=modal(external_id="declare-1")
    )["view"]
    assert root["root_view_id"] == root["id"] and root["close"]["text"] == "Cancel"
    for title in ("Two", "Three"):
        client.views_push(trigger_id=emu.issue_trigger_id(user), view=modal(title))
    assert [v["title"]["text"] for v in emu.view_stack(user)] == ["Declare", "Two", "Three"]
    assert (
        code(lambda: client.views_push(trigger_id=emu.issue_trigger_id(user), view=modal("Four")))
        == "push_limit_reached"
    )
    new = modal("New", external_id="declare-1")
    updated = client.views_update(view_id=root["id"], hash=root["hash"], view=new)["view"]
    assert updated["id"] == root["id"] and updated["hash"] != root["hash"]
    assert (
        code(lambda: client.views_update(view_id=root["id"], hash=root["hash"], view=modal("X")))
        == "hash_conflict"
    )
    by_external = client.views_update(
        external_id="declare-1", view=modal("Ext", external_id="declare-1")
    )
    assert by_external["view"]["id"] == root["id"]
    assert code(lambda: client.views_update(view_id="V404", view=modal())) == "not_found"
    assert emu.current_view(user)["title"]["text"] == "Three"  # type: ignore[index]


# ---------------------------------------------------------------------- faults


def test_fault_injection(emu: SlackEmulator, client: WebClient, people: dict[str, str]) -> None:
    ch = people["general"]
    emu.fail("chat.postMessage", error="fatal_error", times=2)
    for _ in range(2):
        assert code(lambda: client.chat_postMessage(channel=ch, text="x")) == "fatal_error"
    assert client.chat_postMessage(channel=ch, text="x")["ok"]
    for status in (500, 503):
        emu.fail("conversations.info", status=status)
        with pytest.raises(SlackApiError) as info:
            client.conversations_info(channel=ch)
        assert info.value.response.status_code == status
    emu.fail("chat.update", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as limited:
        client.chat_update(channel=ch, ts="1.0", text="x")
    assert limited.value.response.status_code == 429
    assert limited.value.response.headers["Retry-After"] == "7"
    assert limited.value.response["error"] == "ratelimited"


def test_rate_limit_retry_handler(emu: SlackEmulator, people: dict[str, str]) -> None:
    retrying = WebClient(base_url=emu.api_url, token=TOKEN)
    retrying.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    emu.fail("chat.postMessage", status=429, retry_after=0)
    assert retrying.chat_postMessage(channel=people["general"], text="eventually")["ok"]
    assert [c.status for c in emu.calls_to("chat.postMessage")] == [429, 200]


def test_latency_does_not_serialize_requests(emu: SlackEmulator, client: WebClient) -> None:
    emu.set_latency(0.3)
    started = time.perf_counter()
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda _: client.auth_test()["ok"], range(10)))
    elapsed = time.perf_counter() - started
    assert all(results) and 0.3 <= elapsed < 1.0
    emu.set_latency(0)
    emu.set_latency(0.2, method="team.info")
    started = time.perf_counter()
    client.auth_test()
    assert time.perf_counter() - started < 0.2


def test_rate_limits_tiers_and_post_message(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    emu.enable_rate_limits()
    for i in range(20):  # conversations.create is Tier 2: 20 per minute
        client.conversations_create(name=f"inc-{i}")
    data = error_of(lambda: client.conversations_create(name="inc-x"))
    assert data["error"] == "ratelimited"
    assert int(emu.calls_to("conversations.create")[-1].status) == 429
    burst = [client.chat_postMessage(channel=people["general"], text="b") for _ in range(3)]
    assert len(burst) == 3
    assert (
        code(lambda: client.chat_postMessage(channel=people["general"], text="b")) == "ratelimited"
    )
    assert client.chat_postMessage(channel=people["random"], text="other channel")["ok"]


def test_concurrent_posts_get_unique_increasing_ts(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    with ThreadPoolExecutor(16) as pool:
        posted = list(
            pool.map(
                lambda i: client.chat_postMessage(channel=people["general"], text=str(i))["ts"],
                range(40),
            )
        )
    stored = [m["ts"] for m in emu.messages(people["general"])]
    assert len(set(posted)) == 40 and stored == sorted(posted, key=float)


# ---------------------------------------------------------------------- files and response_url


def test_files_upload_v2_end_to_end(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    ch = people["general"]
    parent = client.chat_postMessage(channel=ch, text="timeline")["ts"]
    upload = client.files_upload_v2(
        channel=ch,
        content="line 1\nline 2\n",
        filename="timeline.txt",
        title="Timeline",
        initial_comment="Attached",
        thread_ts=parent,
    )
    file_id = upload["file"]["id"]
    assert emu.file_content(file_id) == b"line 1\nline 2\n"
    reply = emu.replies(ch, parent)[0]
    assert reply["text"] == "Attached" and reply["files"][0]["id"] == file_id
    info = client.files_info(file=file_id)
    assert info["file"]["title"] == "Timeline" and info["content"].startswith("line 1")
    assert ch in info["file"]["channels"] and info["file"]["size"] == 14
    download = urllib.request.Request(
        info["file"]["url_private"], headers={"Authorization": f"Bearer {TOKEN}"}
    )
    with urllib.request.urlopen(download, timeout=5) as response:
        assert response.read() == b"line 1\nline 2\n"


def test_response_url_recording(emu: SlackEmulator, people: dict[str, str]) -> None:
    ch, alice = people["general"], people["alice"]
    url = emu.new_response_url(channel=ch, user=alice)
    headers = {"Content-Type": "application/json"}
    assert raw_post(url, json.dumps({"text": "just you"}).encode(), headers)[0] == 200
    body = {"response_type": "in_channel", "text": "everyone"}
    assert raw_post(url, json.dumps(body).encode(), headers) == (200, {"ok": True})
    assert [r["body"]["text"] for r in emu.responses] == ["just you", "everyone"]
    assert emu.ephemerals(ch, alice)[0]["source"] == "response_url"
    assert [m["text"] for m in emu.messages(ch)] == ["everyone"]
    ts = emu.messages(ch)[0]["ts"]
    on_message = emu.new_response_url(channel=ch, user=alice, message_ts=ts)
    raw_post(on_message, json.dumps({"replace_original": True, "text": "v2"}).encode(), headers)
    assert emu.message(ch, ts)["text"] == "v2"  # type: ignore[index]
    raw_post(on_message, json.dumps({"delete_original": True}).encode(), headers)
    assert emu.messages(ch) == []
    assert raw_post(f"{emu.url}/response/nope", b"{}", headers)[0] == 404


def test_wait_for_and_reset(emu: SlackEmulator, client: WebClient) -> None:
    threading.Timer(0.05, client.auth_test).start()
    assert emu.wait_for("auth.test", timeout=2).ok
    assert emu.wait_for(lambda: len(emu.calls) == 1) is True
    with pytest.raises(TimeoutError):
        emu.wait_for("api.test", timeout=0.05)
    emu.add_channel("tmp")
    emu.reset()
    assert emu.calls == [] and emu.channel_by_name("tmp") is None
    assert client.auth_test()["ok"]


# ---------------------------------------------------------------------- driver


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    valid: bool

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}

    @property
    def payload(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.form["payload"])
        return data


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


@dataclass
class FakeApp:
    """A tiny stdlib server standing in for the app: verifies Slack signatures, records."""

    answer: Callable[[Received], tuple[int, str]] = lambda r: (200, "")
    received: list[Received] = field(default_factory=list)

    def __post_init__(self) -> None:
        verifier = SignatureVerifier(SECRET)
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                headers = {k.lower(): v for k, v in self.headers.items()}
                got = Received(self.path, headers, body, verifier.is_valid_request(body, headers))
                app.received.append(got)
                status, text = app.answer(got) if got.valid else (401, "")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text.encode())

            def log_message(self, *args: Any) -> None:
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        serve = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        serve.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/slack/events"


@pytest.fixture
def fake_app() -> Iterator[FakeApp]:
    app = FakeApp()
    yield app
    app.server.shutdown()
    app.server.server_close()


@pytest.fixture
def driver(emu: SlackEmulator, fake_app: FakeApp) -> SlackDriver:
    return SlackDriver(app_url=fake_app.url, signing_secret=SECRET, emulator=emu)


def test_driver_signatures(driver: SlackDriver, fake_app: FakeApp, people: dict[str, str]) -> None:
    ok = driver.slash_command("help", user=people["alice"], channel=people["general"])
    assert ok.status == 200 and fake_app.received[-1].valid and ok.elapsed > 0
    bad = driver.with_options(bad_signature=True).url_verification("c")
    stale = driver.with_options(stale_timestamp=True).url_verification("c")
    assert (bad.status, stale.status) == (401, 401)
    assert not fake_app.received[-1].valid and not fake_app.received[-2].valid


def test_driver_slash_command_fields(
    emu: SlackEmulator, driver: SlackDriver, fake_app: FakeApp, people: dict[str, str]
) -> None:
    result = driver.slash_command("declare db", user=people["alice"], channel=people["general"])
    form = fake_app.received[-1].form
    assert fake_app.received[-1].headers["content-type"] == "application/x-www-form-urlencoded"
    assert form["command"] == "/incident" and form["text"] == "declare db"
    assert (form["user_name"], form["channel_name"]) == ("alice", "general")
    assert form["team_id"] == emu.team_id and form["api_app_id"] == emu.app_id
    assert form["response_url"] == result.response_url and form["trigger_id"] == result.trigger_id
    assert form["is_enterprise_install"] == "false" and form["token"]
    assert result.response_url and result.response_url.startswith(emu.url)


def test_driver_block_actions_and_modal_flow(
    emu: SlackEmulator,
    client: WebClient,
    driver: SlackDriver,
    fake_app: FakeApp,
    people: dict[str, str],
) -> None:
    alice, ch = people["alice"], people["general"]
    blocks = [{"type": "actions", "block_id": "acts", "elements": [_button("ack")]}]
    posted = client.chat_postMessage(channel=ch, text="Incident", blocks=blocks)
    driver.block_actions("ack", user=alice, message=emu.messages(ch)[0], channel=ch)
    payload = fake_app.received[-1].payload
    assert payload["type"] == "block_actions" and payload["actions"][0]["block_id"] == "acts"
    assert payload["container"]["message_ts"] == posted["ts"] and payload["response_url"]
    trigger = payload["trigger_id"]
    select = {
        "type": "static_select",
        "action_id": "sev",
        "options": [{"text": {"type": "plain_text", "text": "SEV1"}, "value": "sev1"}],
    }
    form = modal(
        callback_id="declare",
        submit={"type": "plain_text", "text": "Go"},
        blocks=[
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "T"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
            {
                "type": "input",
                "block_id": "severity",
                "label": {"type": "plain_text", "text": "S"},
                "element": select,
            },
        ],
    )
    view = client.views_open(trigger_id=trigger, view=form)["view"]
    assert emu.current_view(alice)["id"] == view["id"]  # type: ignore[index]
    fake_app.answer = lambda r: (
        200,
        json.dumps({"response_action": "errors", "errors": {"title": "?"}}),
    )
    driver.view_submission(view, {"title": {"value": ""}}, user=alice)
    assert emu.current_view(alice) is not None
    fake_app.answer = lambda r: (200, "")
    driver.view_submission(
        view, {"title": {"value": "DB down"}, "severity": {"sev": "sev1"}}, user=alice
    )
    submitted = fake_app.received[-1].payload
    values = submitted["view"]["state"]["values"]
    assert values["title"]["value"] == {"type": "plain_text_input", "value": "DB down"}
    assert values["severity"]["sev"]["selected_option"]["value"] == "sev1"
    assert submitted["view"]["callback_id"] == "declare" and submitted["view"]["hash"]
    assert emu.current_view(alice) is None


def test_driver_shortcuts_and_view_closed(
    emu: SlackEmulator, driver: SlackDriver, fake_app: FakeApp, people: dict[str, str]
) -> None:
    alice, ch = people["alice"], people["general"]
    driver.global_shortcut("declare_incident", user=alice)
    shortcut = fake_app.received[-1].payload
    assert shortcut["type"] == "shortcut" and shortcut["callback_id"] == "declare_incident"
    ts = emu.post_as_user(alice, ch, "it broke")["ts"]
    driver.message_shortcut(
        "from_message", user=alice, channel=ch, message=emu.message(ch, ts) or {}
    )
    action = fake_app.received[-1].payload
    assert action["type"] == "message_action" and action["message_ts"] == ts
    assert action["channel"] == {"id": ch, "name": "general"} and action["response_url"]
    driver.view_closed({"id": "V1", "type": "modal"}, user=alice, is_cleared=True)
    assert fake_app.received[-1].payload["is_cleared"] is True


def test_driver_events_keep_state_consistent(
    emu: SlackEmulator, driver: SlackDriver, fake_app: FakeApp, people: dict[str, str]
) -> None:
    alice, ch = people["alice"], people["general"]
    ts = driver.user_posts(alice, ch, f"hey <@{emu.bot_user_id}>")
    message_env = json.loads(fake_app.received[-2].body)
    mention_env = json.loads(fake_app.received[-1].body)
    assert message_env["type"] == "event_callback" and message_env["event_id"].startswith("Ev")
    assert message_env["authorizations"][0]["user_id"] == emu.bot_user_id
    event = message_env["event"]
    assert (event["type"], event["ts"], event["channel_type"]) == ("message", ts, "channel")
    assert mention_env["event"]["type"] == "app_mention"
    assert emu.messages(ch)[-1]["text"] == f"hey <@{emu.bot_user_id}>"
    driver.user_reacts(people["bob"], ch, ts, "eyes")
    reaction = json.loads(fake_app.received[-1].body)["event"]
    assert reaction["item"] == {"type": "message", "channel": ch, "ts": ts}
    assert reaction["item_user"] == alice and emu.reactions(ch, ts)[0]["users"] == [people["bob"]]
    driver.user_unreacts(people["bob"], ch, ts, "eyes")
    assert json.loads(fake_app.received[-1].body)["event"]["type"] == "reaction_removed"
    driver.user_edits(alice, ch, ts, "edited")
    changed = json.loads(fake_app.received[-1].body)["event"]
    assert changed["subtype"] == "message_changed" and changed["message"]["text"] == "edited"
    assert changed["previous_message"]["text"].startswith("hey")
    reply = driver.user_posts(alice, ch, "in thread", thread_ts=ts)
    assert json.loads(fake_app.received[-1].body)["event"]["thread_ts"] == ts and reply
    driver.user_deletes(ch, ts)
    deleted = json.loads(fake_app.received[-1].body)["event"]
    assert deleted["subtype"] == "message_deleted" and deleted["deleted_ts"] == ts
    assert emu.message(ch, ts) is None
    driver.event({"type": "app_mention", "text": "x"}, event_id="Ev1", retry_num=1)
    retried = fake_app.received[-1]
    assert retried.headers["x-slack-retry-num"] == "1"
    assert retried.headers["x-slack-retry-reason"] == "http_timeout"
    driver.app_home_opened(alice)
    home = json.loads(fake_app.received[-1].body)["event"]
    assert home["type"] == "app_home_opened" and home["channel"].startswith("D")
    assert driver.url_verification("abc").payload["challenge"] == "abc"


def test_driver_concurrent_requests(
    driver: SlackDriver, fake_app: FakeApp, people: dict[str, str]
) -> None:
    with ThreadPoolExecutor(20) as pool:
        results = list(
            pool.map(
                lambda i: driver.slash_command(
                    f"n{i}", user=people["alice"], channel=people["general"]
                ),
                range(40),
            )
        )
    assert all(r.status == 200 for r in results) and len(fake_app.received) == 40
    assert all(r.valid for r in fake_app.received)
    assert len({r.trigger_id for r in results}) == 40


def test_control_api_and_cli_send(
    emu: SlackEmulator,
    fake_app: FakeApp,
    people: dict[str, str],
    capsys: pytest.CaptureFixture[str],
) -> None:
    remote = RemoteEmulator(emu.url)
    assert remote.team_id == emu.team_id and remote.channel("general")["id"] == people["general"]  # type: ignore[index]
    hook = remote.new_response_url(channel=people["general"], user=people["alice"])

    def answer(received: Received) -> tuple[int, str]:
        url = received.form["response_url"]
        raw_post(
            url, json.dumps({"text": "help text"}).encode(), {"Content-Type": "application/json"}
        )
        return 200, ""

    fake_app.answer = answer
    code = cli_main(
        [
            "send",
            "--app-url",
            fake_app.url,
            "--signing-secret",
            SECRET,
            "--emulator-url",
            emu.url,
            "--wait",
            "0",
            "/incident help",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0 and "HTTP 200" in out and "[ephemeral] help text" in out
    assert hook.startswith(emu.url) and fake_app.received[-1].form["text"] == "help"


def test_bolt_app_end_to_end(emu: SlackEmulator, people: dict[str, str]) -> None:
    """A real slack_bolt App accepts the driver's requests and talks back to the emulator."""
    from slack_bolt import App, BoltRequest

    alice, ch = people["alice"], people["general"]
    app = App(client=WebClient(base_url=emu.api_url, token=TOKEN), signing_secret=SECRET)
    form = modal(
        callback_id="declare",
        submit={"type": "plain_text", "text": "Go"},
        blocks=[
            {
                "type": "input",
                "block_id": "title",
                "label": {"type": "plain_text", "text": "T"},
                "element": {"type": "plain_text_input", "action_id": "value"},
            },
        ],
    )
    seen: dict[str, Any] = {}

    @app.command("/incident")
    def command(ack: Any, respond: Any, client: WebClient, body: dict[str, Any]) -> None:
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=form)
        respond(text="opening", response_type="in_channel")

    @app.view("declare")
    def submitted(ack: Any, view: dict[str, Any]) -> None:
        seen["title"] = view["state"]["values"]["title"]["value"]["value"]
        ack(response_action="update", view=modal("Declared"))

    @app.action("ack")
    def acked(ack: Any, respond: Any) -> None:
        ack()
        respond(replace_original=True, text="acknowledged")

    @app.event("message")
    def message(event: dict[str, Any]) -> None:
        seen["message"] = event["text"]

    def answer(received: Received) -> tuple[int, str]:
        headers: dict[str, str | Sequence[str]] = dict(received.headers)
        response = app.dispatch(BoltRequest(body=received.body.decode(), headers=headers))
        return response.status, response.body

    fake = FakeApp(answer=answer)
    try:
        driver = SlackDriver(app_url=fake.url, signing_secret=SECRET, emulator=emu)
        assert driver.slash_command("declare", user=alice, channel=ch).status == 200
        view = emu.wait_for(lambda: emu.current_view(alice))
        result = driver.view_submission(view, {"title": {"value": "DB down"}}, user=alice)
        assert result.json["response_action"] == "update" and seen["title"] == "DB down"
        assert emu.current_view(alice)["title"]["text"] == "Declared"  # type: ignore[index]
        emu.wait_for(lambda: emu.messages(ch))
        blocks = [{"type": "actions", "elements": [_button("ack")]}]
        WebClient(base_url=emu.api_url, token=TOKEN).chat_postMessage(
            channel=ch, text="Incident declared", blocks=blocks
        )
        posted = emu.messages(ch)[-1]
        driver.block_actions("ack", user=alice, message=posted, channel=ch)
        emu.wait_for(lambda: emu.message(ch, posted["ts"])["text"] == "acknowledged")  # type: ignore[index]
        driver.user_posts(alice, ch, "hello bot")
        emu.wait_for(lambda: seen.get("message") == "hello bot")
    finally:
        fake.server.shutdown()
        fake.server.server_close()


def test_usergroups_users_list(
    emu: SlackEmulator, client: WebClient, people: dict[str, str]
) -> None:
    group = emu.add_usergroup("support", [people["alice"], people["bob"], people["alice"]])
    gone = emu.add_usergroup("old-team", [people["carol"]], disabled=True)
    assert group.startswith("S")
    assert client.usergroups_users_list(usergroup=group)["users"] == [
        people["alice"],
        people["bob"],
    ]
    assert code(lambda: client.usergroups_users_list(usergroup="S0NOPE")) == "no_such_subteam"
    assert code(lambda: client.usergroups_users_list(usergroup=gone)) == "no_such_subteam"
    disabled = client.usergroups_users_list(usergroup=gone, include_disabled=True)
    assert disabled["users"] == [people["carol"]]
    missing = error_of(lambda: client.api_call("usergroups.users.list", params={}))
    assert missing["error"] == "invalid_arguments"
    listed = client.usergroups_list(include_users=True)["usergroups"]
    assert [(g["id"], g["handle"], g["users"]) for g in listed] == [
        (group, "support", [people["alice"], people["bob"]])
    ]
    assert "users" not in client.usergroups_list()["usergroups"][0]


def test_an_overflow_choice_is_a_selected_option() -> None:
    # Slack sends the chosen option of an overflow menu as `selected_option`, like a select.
    menu = {
        "type": "overflow",
        "action_id": "menu",
        "options": [{"text": {"type": "plain_text", "text": "Archive"}, "value": "archive"}],
    }
    blocks = [{"type": "actions", "block_id": "b", "elements": [menu]}]
    action = payloads.action(blocks, "menu", value="archive")
    assert action["type"] == "overflow"
    assert action["selected_option"] == menu["options"][0]
    assert "value" not in action


def test_typed_text_keeps_entities_and_its_rich_text_the_raw_characters() -> None:
    elements = typed.rich_elements("a &lt;b&gt; &amp; <@U123> in <#C456|general>")
    assert elements == [
        {"type": "text", "text": "a <b> & "},
        {"type": "user", "user_id": "U123"},
        {"type": "text", "text": " in "},
        {"type": "channel", "channel_id": "C456"},
    ]
    assert typed.rich_elements("") == [{"type": "text", "text": ""}]
