"""Reading a request's query parameters: times, cursors, choices; a bad one is a 400 that says why."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from rolewatch.config import parse_duration
from rolewatch.web.paging import BadCursor, decode_cursor


def moment(params: QueryParams, name: str, now: datetime) -> datetime | None:
    """`?since=24h` (a duration back from now) or an ISO 8601 date or time (UTC unless it says)."""
    text = params.get(name, "").strip()
    if not text:
        return None
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPException(400, f"{name}: give a duration (24h, 7d) or an ISO date, not {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def choice(
    params: QueryParams, name: str, allowed: tuple[str, ...], default: str | None = None
) -> str | None:
    value = params.get(name) or default
    if value is not None and value not in allowed:
        raise HTTPException(400, f"{name}: one of {', '.join(allowed)}, not {value!r}")
    return value


def cursor(params: QueryParams, shape: tuple[type, ...]) -> tuple[Any, ...] | None:
    try:
        return decode_cursor(params.get("cursor"), shape)
    except BadCursor as error:
        raise HTTPException(400, f"cursor: {error}") from None


def limit(params: QueryParams, default: int, ceiling: int = 500) -> int:
    text = params.get("limit")
    if not text:
        return default
    if not text.isdigit() or not 1 <= int(text) <= ceiling:
        raise HTTPException(400, f"limit: a whole number from 1 to {ceiling}")
    return int(text)


def text(params: QueryParams, name: str) -> str | None:
    value = params.get(name, "").strip()
    return value or None
