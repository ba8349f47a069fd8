"""The JSON API and CSV exports. Each object is exactly what the CLI prints with `--format json`:
the same storage query and the same record function (`rolewatch.output`), never a second copy."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from rolewatch.domain import EventType
from rolewatch.output import (
    EVENT_FIELDS,
    csv_cell,
    event_record,
    jsonable,
    plain,
    posting_fields,
    posting_record,
)
from rolewatch.web import params
from rolewatch.web.context import web
from rolewatch.web.paging import encode_cursor
from rolewatch.web.search import posting_search
from rolewatch.web.templating import link_to
from scheduler.schedule import next_cron_fire
from storage import browse
from storage.queries import posting_history, source_status

EVENT_TYPES = tuple(kind.value for kind in EventType)
CSV_BATCH = 1_000


def _json(document: Any, status: int = 200) -> Response:
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body, status_code=status, media_type="application/json")


def _page(request: Request, items: list[Any], cursor: tuple[Any, ...] | None, more: bool = False) -> Response:
    token = encode_cursor(cursor)
    document: dict[str, Any] = {
        "data": items,
        "next_cursor": token,
        "next": link_to(request.url.path, request.query_params, cursor=token) if token else None,
    }
    if more:
        document["scanned_out"] = True
    return _json(document)


def _event_filter(request: Request) -> browse.EventFilter:
    query = request.query_params
    now = datetime.now(UTC)
    return browse.EventFilter(
        type=params.choice(query, "type", EVENT_TYPES),
        source=params.text(query, "source"),
        company=params.text(query, "company"),
        since=params.moment(query, "since", now),
        until=params.moment(query, "until", now),
    )


def events(request: Request) -> Response:
    """In the order recorded, from `since` (all time when absent), like `rolewatch events --format json`."""
    context = web(request)
    after = params.cursor(request.query_params, (int,))
    page = browse.api_event_page(
        context.engine,
        _event_filter(request),
        after=after[0] if after else None,
        limit=params.limit(request.query_params, context.config.web.page_size),
    )
    return _page(request, [plain(event_record(event)) for event in page.items], page.cursor)


def postings(request: Request) -> Response:
    context = web(request)
    search = posting_search(request.query_params, context.config)
    shape: tuple[type, ...] = (str, int) if search.where.sort == "title" else (int,)
    page = browse.posting_page(
        context.engine,
        search.where,
        after=params.cursor(request.query_params, shape),
        limit=params.limit(request.query_params, context.config.web.page_size),
        accepts=search.accepts,
        with_description=search.reads_description,
    )
    details = browse.posting_details(context.engine, [item.id for item in page.items])
    return _page(request, [posting_record(detail) for detail in details], page.cursor, page.scanned_out)


def posting(request: Request) -> Response:
    """One posting with its history, as `rolewatch show POSTING --format json`."""
    ref = request.path_params["ref"]
    history = posting_history(web(request).engine, ref)
    if history is None:
        raise HTTPException(404, f"no posting {ref!r}")
    return _json(plain(jsonable(dataclasses.asdict(history))))


def sources(request: Request) -> Response:
    """Each configured source, as `rolewatch status --format json`."""
    context = web(request)
    rows = source_status(context.engine, context.config.resolved_sources(), next_cron_fire)
    return _json([plain(vars(row)) for row in rows])


# --- CSV -----------------------------------------------------------------------------------------


def events_csv(request: Request) -> Response:
    """Every matching event, oldest first, streamed page by page (the whole table if asked)."""
    context = web(request)
    wanted = _event_filter(request)

    def rows() -> Iterator[dict[str, Any]]:
        after: int | None = None
        while True:
            page = browse.api_event_page(context.engine, wanted, after=after, limit=CSV_BATCH)
            for event in page.items:
                yield plain(event_record(event))
            if page.cursor is None:
                return
            after = page.cursor[0]

    return _csv(rows(), list(EVENT_FIELDS), "events.csv")


def postings_csv(request: Request) -> Response:
    """Every posting the search matches with every field, the description too: the rows of
    `rolewatch postings --format csv --description`."""
    context = web(request)
    search = posting_search(request.query_params, context.config)

    def rows() -> Iterator[dict[str, Any]]:
        after: tuple[Any, ...] | None = None
        while True:
            page = browse.posting_page(
                context.engine,
                search.where,
                after=after,
                limit=CSV_BATCH,
                accepts=search.accepts,
                with_description=search.reads_description,
            )
            for detail in browse.posting_details(context.engine, [item.id for item in page.items]):
                yield posting_record(detail, description=True)
            if page.cursor is None:
                return
            after = page.cursor

    return _csv(rows(), list(posting_fields(description=True)), "postings.csv")


def _csv(rows: Iterator[dict[str, Any]], columns: list[str], filename: str) -> Response:
    def chunks() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for number, row in enumerate(rows, 1):
            writer.writerow({key: csv_cell(value) for key, value in row.items()})
            if number % CSV_BATCH == 0:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    return StreamingResponse(
        chunks(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def not_found(request: Request) -> Response:
    return JSONResponse({"error": "no such API endpoint"}, status_code=404)


ROUTES = [
    Route("/api/events", events),
    Route("/api/events.csv", events_csv),
    Route("/api/postings", postings),
    Route("/api/postings.csv", postings_csv),
    Route("/api/postings/{ref:path}", posting),
    Route("/api/sources", sources),
]
