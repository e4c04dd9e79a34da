"""The baseline: a bare Bolt app that acknowledges, then posts one message.

It listens for the same four requests as the benchmark sends the bot (`/incident`, the
declare form's view_submission, `reaction_added` and the card's "Post update" button),
acknowledges each at once and then posts one message with chat.postMessage. Nothing else:
no database, no middleware of ours.

Served the most efficient way Bolt offers for production (see docs/benchmarks.md for the
measurements behind the choice):

- `async` (the default and the baseline): `AsyncApp` with `AsyncWebClient`, through Bolt's
  ASGI adapter (`AsyncSlackRequestHandler`) under uvicorn; one process, one event loop.
- `wsgi`: the sync `App` through Bolt's WSGI adapter under gunicorn's threaded worker
  (`gthread`, one process, 64 threads); needs `pip install gunicorn`.

`--keep-url postgresql://…` (async only) makes it the *durable floor* (bench/durable_floor.py):
before acknowledging, each listener writes the request's raw body to PostgreSQL in one
autocommit INSERT, keyed by its hash, on one connection the event loop keeps. That is the
least any app that keeps a request durably before answering can do; nothing else changes.

    SLACK_BOT_TOKEN=... SLACK_SIGNING_SECRET=... SLACK_API_URL=... BASELINE_CHANNEL=C...
    python -m bench.baseline_app --port 3100 [--server async|wsgi]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from typing import Any

from blocks.ids import Action, Callback

DECLARE_CALLBACK = Callback.DECLARE_MODAL.value
CARD_BUTTON = Action.POST_UPDATE.value
TEXT = "Acknowledged."


def _settings() -> tuple[str, str, str, str]:
    env = os.environ
    # Taken out of the environment: Bolt would read it too and warn that the client wins.
    token = env.pop("SLACK_BOT_TOKEN")
    return (
        token,
        env["SLACK_SIGNING_SECRET"],
        env.get("SLACK_API_URL", "https://slack.com/api/"),
        env["BASELINE_CHANNEL"],
    )


KEEP_TABLE = "baseline_keep"


class FloorKeep:
    """The durable floor's keep: one autocommit INSERT per request (see the module)."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.url = url
        with psycopg.connect(url, autocommit=True) as connection:  # before any request
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {KEEP_TABLE} (key text PRIMARY KEY, body text NOT"
                " NULL, kept_at timestamptz NOT NULL DEFAULT now())"
            )
        self._connection: Any = None

    async def keep(self, raw_body: str) -> None:
        if self._connection is None:
            import psycopg

            self._connection = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        key = hashlib.sha256(raw_body.encode()).hexdigest()
        await self._connection.execute(
            f"INSERT INTO {KEEP_TABLE} (key, body) VALUES (%s, %s) ON CONFLICT (key) DO NOTHING",
            (key, raw_body),
        )


def async_app(session: Any = None, keep_url: str | None = None) -> Any:
    """The ASGI application: AsyncApp behind AsyncSlackRequestHandler.

    `session`: an aiohttp ClientSession the Web API client keeps its connections in (by
    default AsyncWebClient opens a new session, so a new connection, for every call).
    `keep_url`: PostgreSQL to keep each request in before acknowledging it (the floor).
    """
    from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
    from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltRequest
    from slack_sdk.web.async_client import AsyncWebClient

    token, secret, api_url, channel = _settings()
    app = AsyncApp(
        client=AsyncWebClient(token=token, base_url=api_url, session=session),
        signing_secret=secret,
        process_before_response=False,
    )

    floor = FloorKeep(keep_url) if keep_url else None

    async def ack_then_post(
        ack: AsyncAck, client: AsyncWebClient, request: AsyncBoltRequest
    ) -> None:
        if floor is not None:
            await floor.keep(request.raw_body)
        await ack()
        await client.chat_postMessage(channel=channel, text=TEXT)

    app.command("/incident")(ack_then_post)
    app.view(DECLARE_CALLBACK)(ack_then_post)
    app.event("reaction_added")(ack_then_post)
    app.action(CARD_BUTTON)(ack_then_post)
    return AsyncSlackRequestHandler(app)


def wsgi_app() -> Any:
    """The WSGI application: the sync App behind Bolt's SlackRequestHandler."""
    from slack_bolt import Ack, App
    from slack_bolt.adapter.wsgi import SlackRequestHandler
    from slack_sdk import WebClient

    token, secret, api_url, channel = _settings()
    app = App(
        client=WebClient(token=token, base_url=api_url),
        signing_secret=secret,
        process_before_response=False,
    )

    def ack_then_post(ack: Ack, client: WebClient) -> None:
        ack()
        client.chat_postMessage(channel=channel, text=TEXT)

    app.command("/incident")(ack_then_post)
    app.view(DECLARE_CALLBACK)(ack_then_post)
    app.event("reaction_added")(ack_then_post)
    app.action(CARD_BUTTON)(ack_then_post)
    return SlackRequestHandler(app)


def serve_async(
    host: str, port: int, shared_session: bool = True, keep_url: str | None = None
) -> None:
    import asyncio

    import aiohttp
    import uvicorn

    async def main() -> None:
        async with aiohttp.ClientSession() as session:
            app = async_app(session if shared_session else None, keep_url)
            config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
            await uvicorn.Server(config).serve()

    asyncio.run(main())


def serve_wsgi(host: str, port: int) -> None:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": 64,
                "loglevel": "warning",
                "keepalive": 30,
            }
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return wsgi_app()

    Server().run()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_app", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3100)
    parser.add_argument("--server", choices=["async", "async-nosession", "wsgi"], default="async")
    parser.add_argument(
        "--keep-url", help="postgresql://… : keep each request there before the ack (async)"
    )
    args = parser.parse_args(argv)
    if args.server.startswith("async"):
        serve_async(args.host, args.port, args.server == "async", args.keep_url)
    elif args.keep_url:
        parser.error("--keep-url needs an async server")
    else:
        serve_wsgi(args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
