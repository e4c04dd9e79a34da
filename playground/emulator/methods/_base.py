"""Shared types and helpers of the Web API method handlers."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Any, TypeVar

from ..errors import SlackError
from ..params import Params
from ..state import Workspace

Handler = Callable[[Workspace, Params], dict[str, Any]]
T = TypeVar("T")


def _encode_cursor(offset: int) -> str:
    return base64.b64encode(f"offset:{offset}".encode()).decode()


def _decode_cursor(cursor: str) -> int:
    try:
        kind, _, value = base64.b64decode(cursor.encode(), validate=True).decode().partition(":")
        if kind != "offset":
            raise ValueError(cursor)
        return max(0, int(value))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise SlackError("invalid_cursor") from exc


def paginate(
    items: list[T], p: Params, *, default_limit: int = 100, max_limit: int = 1000
) -> tuple[list[T], dict[str, Any]]:
    """Cursor pagination: (page, ``response_metadata`` with ``next_cursor``)."""
    limit = p.num("limit", default_limit)
    limit = default_limit if limit <= 0 else min(limit, max_limit)
    cursor = p.opt("cursor")
    offset = _decode_cursor(cursor) if cursor else 0
    end = offset + limit
    next_cursor = _encode_cursor(end) if end < len(items) else ""
    return items[offset:end], {"next_cursor": next_cursor}
