"""Serve an ASGI app with uvicorn on a free loopback port, for tests that need real HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def _idle(connection: Any) -> bool:
    """A connection between requests (uvicorn's test before closing one at once)."""
    cycle = getattr(connection, "cycle", None)
    return cycle is None or bool(getattr(cycle, "response_complete", False))


class StoppableServer(uvicorn.Server):
    """uvicorn's server; `stop()` ends its main loop at once instead of at its next tick
    (uvicorn looks at `should_exit` every 0.1 s: a tenth of a second for every test's bot)."""

    _wake: asyncio.Event | None = None
    _loop: asyncio.AbstractEventLoop | None = None

    async def main_loop(self) -> None:
        self._loop, self._wake = asyncio.get_running_loop(), asyncio.Event()
        counter = 0
        should_exit = await self.on_tick(counter)
        while not should_exit:
            counter = (counter + 1) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), 0.1)
            should_exit = await self.on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown; with no request in flight, without its fixed 0.1 s grace for
        them to finish (a tenth of a second for every test's bot again)."""
        connections = list(self.server_state.connections)
        if self.server_state.tasks or not all(map(_idle, connections)):
            await super().shutdown(sockets)
            return
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        for connection in connections:
            connection.shutdown()  # idle keep-alive connections: closed at once
        for server in self.servers:
            await server.wait_closed()
        if not self.force_exit:
            await self.lifespan.shutdown()

    def stop(self) -> None:
        self.should_exit = True
        loop, wake = self._loop, self._wake
        if loop is not None and wake is not None:
            with contextlib.suppress(RuntimeError):  # the loop has ended already
                loop.call_soon_threadsafe(wake.set)


class ServerThread:
    """A uvicorn server (the one above) in a daemon thread: the bot's and the playground's."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket] | None = None) -> None:
        self._server = StoppableServer(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": sockets}, daemon=True
        )

    def start(self) -> None:
        """Return when the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        """Stop the server the way SIGTERM does (requests in flight are answered)."""
        self._server.stop()
        self._thread.join(timeout=15)


@contextmanager
def served(app: Any) -> Iterator[httpx.Client]:
    """An HTTP client whose base URL is `app`, served for the duration of the block."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = ServerThread(
        uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=2), sockets=[sock]
    )
    server.start()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:
            yield client
    finally:
        server.stop()
        sock.close()
