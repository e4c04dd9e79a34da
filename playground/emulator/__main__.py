"""Try the bot by hand against the emulator.

    python -m playground.emulator serve --port 8099 --token xoxb-test
    python -m playground.emulator send --app-url http://127.0.0.1:3000/slack/events \\
        --signing-secret S --emulator-url http://127.0.0.1:8099 "/incident help"
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from types import FrameType
from typing import Any

from .driver import SlackDriver
from .remote import RemoteEmulator
from .server import SlackEmulator


def _serve(args: argparse.Namespace) -> int:
    emu = SlackEmulator(args.token, host=args.host, port=args.port)
    emu.start()
    ids = emu.seed_demo() if not args.no_seed else {}

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    print(f"Slack emulator listening; api_url: {emu.api_url}", flush=True)
    print(f"  bot token: {args.token}   team: {emu.team_id}   bot user: {emu.bot_user_id}")
    for name, ident in ids.items():
        print(f"  {'#' + name if ident.startswith('C') else '@' + name:<10} {ident}")
    print("Point the bot's Slack API URL at api_url; Ctrl-C stops.", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        emu.stop()
    return 0


def _show(value: Any, limit: int = 600) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[:limit] + " ..."


def _summary(body: dict[str, Any]) -> str:
    parts = [f"[{body.get('response_type', 'ephemeral')}]"]
    for flag in ("replace_original", "delete_original"):
        if body.get(flag) in (True, "true"):
            parts.append(flag)
    if body.get("text"):
        parts.append(_show(body["text"]))
    if body.get("blocks"):
        parts.append(f"blocks={_show(body['blocks'], 300)}")
    return " ".join(parts)


def _send(args: argparse.Namespace) -> int:
    remote = RemoteEmulator(args.emulator_url)
    user = remote.user(args.user)
    channel = remote.channel(args.channel)
    if user is None or channel is None:
        missing = "user" if user is None else "channel"
        print(f"no such {missing} in the emulator: {args.user if user is None else args.channel}")
        return 2
    command, _, text = args.command_line.strip().partition(" ")
    if not command.startswith("/"):
        print('the command line must start with a slash command, e.g. "/incident help"')
        return 2
    driver = SlackDriver(args.app_url, args.signing_secret, remote)
    started = time.time()
    print(f"> {command} {text}   (as @{user['name']} {user['id']} in #{channel['name']})")
    result = driver.slash_command(text, user=user["id"], channel=channel["id"], command=command)
    print(f"< HTTP {result.status} in {result.elapsed:.3f}s")
    if result.body:
        print(f"  {_show(result.json if result.json is not None else result.body)}")
    time.sleep(args.wait)
    hook_id = (result.response_url or "").rsplit("/", 1)[-1]
    responses = [r for r in remote.responses(since=started) if r["id"] == hook_id]
    print(f"response_url posts ({len(responses)}):")
    for response in responses:
        print(f"  {_summary(response['body'])}")
    calls = remote.calls(since=started)
    print(f"Web API calls by the app ({len(calls)}):")
    for call in calls:
        outcome = "ok" if call["response"].get("ok") else call["response"].get("error")
        params = call["params"]
        where = params.get("channel") or params.get("user_id") or ""
        view = params.get("view") if isinstance(params.get("view"), dict) else {}
        shown = params.get("text") or (view.get("title") or {}).get("text") or ""
        print(f"  {call['method']} {where} -> {outcome}  {_show(shown, 200)}".rstrip())
    return 0 if result.ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m playground.emulator",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="action", required=True)
    serve = sub.add_parser("serve", help="run the emulator in the foreground, seeded")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8099)
    serve.add_argument("--token", default="xoxb-test")
    serve.add_argument("--no-seed", action="store_true", help="start with no users/channels")
    send = sub.add_parser("send", help="send a signed slash command to the app")
    send.add_argument("--app-url", required=True, help="e.g. http://127.0.0.1:3000/slack/events")
    send.add_argument("--signing-secret", required=True)
    send.add_argument("--emulator-url", default="http://127.0.0.1:8099")
    send.add_argument("--user", default="alice", help="user name or id (default: alice)")
    send.add_argument("--channel", default="general", help="channel name or id")
    send.add_argument("--wait", type=float, default=2.0, help="seconds to wait for the app")
    send.add_argument("command_line", help='e.g. "/incident help"')
    args = parser.parse_args(argv)
    return _serve(args) if args.action == "serve" else _send(args)


if __name__ == "__main__":
    sys.exit(main())
