"""The load generator: signed POSTs at a fixed concurrency, timed from send to response.

It runs in its own process (`python -m bench.load --jobs`: a JSON job per line on stdin, a
JSON result per line on stdout), so its CPU time is not taken from the emulator or from the
app under test, and it is as lean as a client can be in
Python: asyncio streams, one kept-alive HTTP/1.1 connection per concurrent sender (as a load
balancer in front of the app would hold), bodies prepared beforehand by the caller. Each
request is signed (Slack's v0 scheme) just before it is timed; the clock runs from the first
byte written to the last byte of the response read.

`python -m bench.load --null-server PORT` serves an app that answers every request at once:
timing the same load against it gives the floor (client, loopback and a trivial server),
which the report prints beside the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

TIMEOUT_SECONDS = 10.0


@dataclass
class Job:
    """What to send: to `url`, `concurrency` at a time; `warmup` first, not timed."""

    url: str
    secret: str
    concurrency: int
    requests: list[dict[str, Any]]  # {"content_type", "body", "headers"?}
    warmup: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


def percentile(ordered: list[float], pct: float) -> float:
    """The `pct` percentile by nearest rank of an already sorted list (0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summarize(latencies: list[float], seconds: float, statuses: dict[str, int]) -> dict[str, Any]:
    """Percentiles (ms) and throughput (per second) of one run."""
    ordered = sorted(latencies)
    ms = [x * 1000 for x in ordered]
    return {
        "requests": len(ms),
        "p50_ms": round(percentile(ms, 50), 2),
        "p95_ms": round(percentile(ms, 95), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(ms[-1], 2) if ms else 0.0,
        "mean_ms": round(sum(ms) / len(ms), 2) if ms else 0.0,
        "throughput_rps": round(len(ms) / seconds, 1) if seconds > 0 else 0.0,
        "seconds": round(seconds, 3),
        "statuses": statuses,
    }


def _signature(secret: bytes, timestamp: str, body: bytes) -> str:
    base = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret, base, hashlib.sha256).hexdigest()


class Connection:
    """One kept-alive HTTP/1.1 connection; reconnects when the server closes it."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.host, self.port, self.path = host, port, path
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.reader is None or self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self.reader, self.writer

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def post(self, head: bytes, body: bytes) -> int:
        """Send one request, read the whole response; returns the HTTP status."""
        reader, writer = await self._open()
        writer.write(head + body)
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
            elif name == b"connection" and b"close" in value.lower():
                close = True
        if chunked:
            while True:
                size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await reader.readexactly(length)
        if close:
            self.close()
        return status


def _head(conn: Connection, secret: bytes, item: dict[str, Any], body: bytes) -> bytes:
    timestamp = str(int(time.time()))
    lines = [
        f"POST {conn.path} HTTP/1.1",
        f"Host: {conn.host}:{conn.port}",
        "User-Agent: Slackbot 1.0 (+https://api.slack.com/robots)",
        f"Content-Type: {item['content_type']}",
        f"Content-Length: {len(body)}",
        f"X-Slack-Request-Timestamp: {timestamp}",
        f"X-Slack-Signature: {_signature(secret, timestamp, body)}",
    ]
    lines += [f"{k}: {v}" for k, v in (item.get("headers") or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def _send_all(
    job: Job,
    pool: list[Connection],
    items: list[dict[str, Any]],
    latencies: list[float],
    statuses: dict[str, int],
) -> float:
    """Send `items`, one sender per pooled connection; returns the wall-clock seconds."""
    secret = job.secret.encode()
    bodies = [str(item["body"]).encode() for item in items]
    next_index = iter(range(len(items)))

    async def sender(conn: Connection) -> None:
        for index in next_index:
            head = _head(conn, secret, items[index], bodies[index])
            started = time.perf_counter()
            try:
                status = await asyncio.wait_for(conn.post(head, bodies[index]), TIMEOUT_SECONDS)
            except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                conn.close()
                status = 0  # no answer: counted, with the time it took to give up
            latencies.append(time.perf_counter() - started)
            statuses[str(status)] = statuses.get(str(status), 0) + 1

    started = time.perf_counter()
    await asyncio.gather(*(sender(conn) for conn in pool[: len(items)]))
    return time.perf_counter() - started


def run_job(job: Job) -> dict[str, Any]:
    """Warm up (which also opens the connections), then send the timed requests."""

    async def main() -> dict[str, Any]:
        url = urlsplit(job.url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        pool = [Connection(host, port, url.path or "/") for _ in range(job.concurrency)]
        try:
            if job.warmup:
                await _send_all(job, pool, job.warmup, [], {})
            latencies: list[float] = []
            statuses: dict[str, int] = {}
            seconds = await _send_all(job, pool, job.requests, latencies, statuses)
        finally:
            for conn in pool:
                conn.close()
        return summarize(latencies, seconds, statuses)

    return asyncio.run(main())


async def _null_app(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request with an empty 200, keeping the connection open."""
    try:
        while True:
            length = 0
            while True:
                line = await reader.readline()
                if not line:
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            if length:
                await reader.readexactly(length)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def serve_null(port: int) -> None:
    """Run the null server on 127.0.0.1:`port` until killed."""

    async def main() -> None:
        server = await asyncio.start_server(_null_app, "127.0.0.1", port, backlog=512)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("job", nargs="?", help="a job file written by the benchmark")
    parser.add_argument("--null-server", type=int, metavar="PORT", help="serve the null app")
    parser.add_argument(
        "--jobs", action="store_true", help="run jobs read from stdin, one JSON per line"
    )
    args = parser.parse_args(argv)
    if args.null_server is not None:
        serve_null(args.null_server)
    elif args.jobs:
        for line in sys.stdin:
            if line.strip():
                print(json.dumps(run_job(Job.from_json(line))), flush=True)
    elif args.job:
        print(json.dumps(run_job(Job.from_json(Path(args.job).read_text()))))
    else:
        parser.error("give a job file, --jobs or --null-server PORT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
