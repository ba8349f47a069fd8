"""Rendering rows for the terminal or for other programs: table, json, jsonl, csv."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import Any, TextIO

from rich.console import Console
from rich.table import Table

from rolewatch.domain import Event

FORMATS = ("table", "json", "jsonl", "csv")


def jsonable(value: Any) -> Any:
    """Enums to their values; everything else as `plain` renders it."""
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return getattr(value, "value", value) if isinstance(value, Enum) else value


def plain(value: Any) -> Any:
    """A JSON-friendly form of a value: datetimes as ISO 8601 UTC, tuples as lists."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value


def event_record(event: Event) -> dict[str, Any]:
    """The event shape SPEC §6 fixes for `events --format jsonl`."""
    return {
        "id": event.id,
        "type": event.type.value,
        "source": event.source,
        "external_id": event.external_id,
        "title": event.title,
        "company": event.company,
        "url": event.url,
        "at": event.at,
        "changes": {name: [old, new] for name, (old, new) in event.changes.items()},
    }


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    out: TextIO | None = None,
    title: str | None = None,
) -> None:
    """Write `rows` in `fmt`; the table shows `columns`, machine formats carry every key."""
    stream = out or sys.stdout
    if fmt == "json":
        json.dump([plain(dict(r)) for r in rows], stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(plain(dict(row)), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        keys = list(rows[0].keys()) if rows else list(columns)
        writer = csv.DictWriter(stream, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: _cell(v) for k, v in row.items()})
    else:
        table = Table(title=title, show_lines=False, header_style="bold")
        for column in columns:
            table.add_column(column.replace("_", " "), overflow="fold")
        for row in rows:
            table.add_row(*(_cell(row.get(c)) for c in columns))
        console = Console(file=stream, soft_wrap=False)
        if not console.is_terminal:  # piped: whole lines, not an 80-column table folding URLs into cells
            console = Console(file=stream, soft_wrap=False, width=PIPED_WIDTH)
        console.print(table)


#: The width of a table written to a pipe or a file: wide enough that no cell is folded in practice.
PIPED_WIDTH = 1000


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, Enum):
        return str(value.value)
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_cell(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        if len(value) == 2 and all(isinstance(v, str) for v in value):
            return f"{value[0]} → {value[1]}"
        return ", ".join(_cell(v) for v in value)
    return str(value)
