"""Shared by the status page's scenario, web and browser tests: a page file and HTTP helpers."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.harness import RunningBot

PAGE_YAML = """name: Acme Status
url: https://status.acme.example
components:
  - name: API
  - name: Website
    description: www and the dashboard
  - name: Card payments
    group: Payments
  - name: Payouts
    group: Payments
"""


def page_file(directory: Path) -> str:
    """Write the page's YAML; returns its path."""
    path = directory / "status.yml"
    path.write_text(PAGE_YAML)
    return str(path)


def get(
    bot: RunningBot, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """GET a path of the bot: status, headers (lower-case names), body."""
    request = urllib.request.Request(bot.base_url + path, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return (
                response.status,
                {k.lower(): v for k, v in response.headers.items()},
                (response.read().decode()),
            )
    except urllib.error.HTTPError as exc:
        return exc.code, {k.lower(): v for k, v in exc.headers.items()}, exc.read().decode()


def post_form(bot: RunningBot, path: str, data: dict[str, Any]) -> tuple[int, str]:
    """POST an urlencoded form."""
    from urllib.parse import urlencode

    request = urllib.request.Request(
        bot.base_url + path,
        data=urlencode(data, doseq=True).encode(),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def api(bot: RunningBot, name: str) -> Any:
    """One Statuspage API file, parsed."""
    status, headers, body = get(bot, f"/api/v2/{name}")
    assert status == 200, body
    assert headers["access-control-allow-origin"] == "*"
    return json.loads(body)


def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll `check` until it returns something truthy (or fail with its last value)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.05)
    raise AssertionError(f"not true within {timeout}s: {last!r}")
