"""Opaque cursors for keyset paging: the last row's sort key, URL-safe, checked when read back."""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any


class BadCursor(ValueError):
    """A cursor that was not made by `encode_cursor` (edited or truncated by hand)."""


def encode_cursor(key: tuple[Any, ...] | None) -> str | None:
    if key is None:
        return None
    parts = [{"t": part.isoformat()} if isinstance(part, datetime) else part for part in key]
    raw = json.dumps(parts, separators=(",", ":"), ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text: str | None, shape: tuple[type, ...]) -> tuple[Any, ...] | None:
    """The key back, each part checked against `shape` (`datetime`, `int`, `str`)."""
    if not text:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        parts = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise BadCursor("the cursor is not one this server gave out") from error
    if not isinstance(parts, list) or len(parts) != len(shape):
        raise BadCursor("the cursor is not one this server gave out")
    return tuple(_part(part, kind) for part, kind in zip(parts, shape, strict=True))


def _part(part: Any, kind: type) -> Any:
    if kind is datetime:
        if not isinstance(part, dict) or not isinstance(part.get("t"), str):
            raise BadCursor("the cursor is not one this server gave out")
        try:
            return datetime.fromisoformat(part["t"])
        except ValueError as error:
            raise BadCursor("the cursor is not one this server gave out") from error
    if kind is int and isinstance(part, int) and not isinstance(part, bool):
        return part
    if kind is str and isinstance(part, str):
        return part
    raise BadCursor("the cursor is not one this server gave out")
