"""Rendering rows for the terminal or for other programs: table, json, jsonl, csv."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from rolewatch.domain import Event
    from storage.queries import PostingDetail

FORMATS = ("table", "json", "jsonl", "csv")

#: The keys of `event_record`, in order: SPEC §6's shape first, fields added since after it.
EVENT_FIELDS = (
    "id",
    "type",
    "source",
    "external_id",
    "title",
    "company",
    "url",
    "at",
    "changes",
    "episode",
    "repost_of",
    "duplicate_of",
)

#: The keys of `posting_record`, in order; `DESCRIPTION_FIELDS` follow when the description is asked for.
POSTING_FIELDS = (
    "id",
    "source",
    "external_id",
    "title",
    "company",
    "department",
    "locations",
    "workplace",
    "employment_type",
    "salary",
    "salary_min",
    "salary_max",
    "salary_currency",
    "salary_period",
    "sponsorship",
    "work_rights",
    "posted_at",
    "deadline",
    "url",
    "apply_url",
    "status",
    "episode",
    "first_seen_at",
    "last_seen_at",
    "closed_at",
    "misses",
    "repost_of",
    "duplicate_of",
    "fingerprint",
    "extra",
)
DESCRIPTION_FIELDS = ("description_text", "description_html")


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


def posting_fields(description: bool = False) -> tuple[str, ...]:
    return POSTING_FIELDS + DESCRIPTION_FIELDS if description else POSTING_FIELDS


def posting_record(detail: PostingDetail, description: bool = False) -> dict[str, Any]:
    """A posting as `postings --format json|jsonl|csv`, the web API and `rolewatch.api` give it: flat,
    every value a string, number, bool or None (places, pay and rights also as their readable labels)."""
    salary, rights = detail.salary, detail.work_rights
    record: dict[str, Any] = {
        "id": detail.id,
        "source": detail.source,
        "external_id": detail.external_id,
        "title": detail.title,
        "company": detail.company,
        "department": detail.department,
        "locations": "; ".join(place.label() for place in detail.locations),
        "workplace": detail.workplace,
        "employment_type": detail.employment_type,
        "salary": salary.label() if salary else None,
        "salary_min": salary.min if salary else None,
        "salary_max": salary.max if salary else None,
        "salary_currency": salary.currency if salary else None,
        "salary_period": salary.period if salary else None,
        "sponsorship": rights.sponsorship if rights else None,
        "work_rights": rights.label() or None if rights else None,
        "posted_at": plain(detail.posted_at),
        "deadline": plain(detail.deadline),
        "url": detail.url,
        "apply_url": detail.apply_url,
        "status": detail.status.value,
        "episode": detail.episode,
        "first_seen_at": plain(detail.first_seen_at),
        "last_seen_at": plain(detail.last_seen_at),
        "closed_at": plain(detail.closed_at),
        "misses": detail.misses,
        "repost_of": detail.repost_of,
        "duplicate_of": detail.duplicate_of,
        "fingerprint": detail.fingerprint,
        "extra": json.dumps(plain(dict(detail.extra)), ensure_ascii=False, sort_keys=True),
    }
    if description:
        record["description_text"] = detail.description_text
        record["description_html"] = detail.description_html
    return record


def event_record(event: Event) -> dict[str, Any]:
    """The event shape SPEC §6 fixes for `events --format jsonl`, then the fields added since."""
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
        "episode": event.episode,
        "repost_of": event.repost_of,
        "duplicate_of": event.duplicate_of,
    }


def render(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    fmt: str,
    out: TextIO | None = None,
    title: str | None = None,
    fields: Sequence[str] | None = None,
) -> None:
    """Write `rows` in `fmt`; the table shows `columns`, machine formats carry every key.

    `fields` is the CSV header (every row's keys), written even when there are no rows; times in CSV
    are ISO 8601 as in JSON, and a nested value is its JSON text."""
    stream = out or sys.stdout
    if fmt == "json":
        json.dump([plain(dict(r)) for r in rows], stream, ensure_ascii=False, indent=2)
        stream.write("\n")
    elif fmt == "jsonl":
        for row in rows:
            stream.write(json.dumps(plain(dict(row)), ensure_ascii=False) + "\n")
    elif fmt == "csv":
        keys = list(fields) if fields is not None else list(rows[0].keys()) if rows else list(columns)
        writer = csv.DictWriter(stream, fieldnames=keys, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: csv_cell(v) for k, v in row.items()})
    else:
        from rich.console import Console  # here: a machine format never pays for Rich's import
        from rich.table import Table

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


def csv_cell(value: Any) -> str:
    """One CSV cell: empty for None, ISO 8601 for a time, JSON text for a list or mapping."""
    if value is None:
        return ""
    value = plain(value)
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


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


def write_columns(
    rows: Iterable[Mapping[str, Any]],
    columns: Sequence[str],
    widths: Mapping[str, int],
    out: TextIO | None = None,
    right: Collection[str] = (),
) -> None:
    """`rows` as plain aligned lines under a header, written one row at a time.

    For output that may run to tens of thousands of rows (a first crawl's events): a Rich table
    measures and holds every cell before it prints its first line, which cost a 50,000-event crawl
    about a minute of CPU and 250 MB. Here a row costs its own formatting. A cell wider than its
    column is written whole and pushes the rest of its line along; nothing is cut."""
    stream = out or sys.stdout
    header = {column: column.replace("_", " ") for column in columns}
    stream.write(_columns_line(header, columns, widths, right))
    for row in rows:
        stream.write(_columns_line({c: _cell(row.get(c)) for c in columns}, columns, widths, right))


def column_widths(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], most: int = 40
) -> dict[str, int]:
    """Each column as wide as its widest cell or header, up to `most` (a longer cell overflows)."""
    widths = {column: len(column) for column in columns}
    for row in rows:
        for column in columns:
            widths[column] = max(widths[column], min(most, len(_cell(row.get(column)))))
    return widths


def _columns_line(
    cells: Mapping[str, str], columns: Sequence[str], widths: Mapping[str, int], right: Collection[str]
) -> str:
    last = len(columns) - 1
    parts = []
    for index, column in enumerate(columns):
        text, width = cells[column], widths.get(column, 0)
        if column in right:
            parts.append(text.rjust(width))
        else:
            parts.append(text if index == last else text.ljust(width))
    return "  ".join(parts).rstrip() + "\n"
