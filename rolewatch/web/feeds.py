"""Atom (RFC 4287) and JSON Feed 1.1 feeds of events: all of them, per source, per subscription.

Entry ids are derived from the event id alone, so they never change between fetches. Every feed
answers `If-None-Match` and `If-Modified-Since` with 304 after one index lookup (the newest event
it could hold), before any entry is read.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rolewatch.config import ConfigError
from rolewatch.domain import Event
from rolewatch.output import event_record, plain
from rolewatch.web.context import web
from rolewatch.web.security import safe_url
from rolewatch.web.templating import render_text
from storage.browse import EventFilter, FeedState, alerted_events, event_page, feed_state, source_names

ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_TYPE = "application/feed+json; charset=utf-8"


@dataclass(frozen=True)
class FeedEntry:
    id: str
    title: str
    updated: datetime
    link: str
    board_url: str | None
    summary: str
    record: dict[str, object]


@dataclass(frozen=True)
class Feed:
    id: str
    title: str
    updated: datetime
    self_url: str
    home_url: str
    entries: Sequence[FeedEntry]


def stable_id(kind: str, key: str) -> str:
    """A URN that depends only on what it names (an event id, a feed path)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"rolewatch:{kind}:{key}").urn


def event_title(event: Event) -> str:
    where = f" — {event.company}" if event.company else ""
    return f"{event.type.value.capitalize()}: {event.title}{where}"


def event_summary(event: Event) -> str:
    lines = [f"{event.type.value} on {event.source} ({event.external_id})"]
    lines += [f"{name}: {old} → {new}" for name, (old, new) in event.changes.items()]
    if event.repost_of:
        lines.append(f"repost of {event.repost_of}")
    if event.duplicate_of:
        lines.append(f"duplicate of {event.duplicate_of}")
    return "\n".join(lines)


def _entry(request: Request, event: Event, posting_path: str) -> FeedEntry:
    assert event.id is not None
    page = str(request.base_url).rstrip("/") + posting_path
    return FeedEntry(
        id=stable_id("event", str(event.id)),
        title=event_title(event),
        updated=event.at,
        link=page,
        board_url=safe_url(event.url),
        summary=event_summary(event),
        record=plain(event_record(event)),
    )


# --- conditional requests ------------------------------------------------------------------------


def _validators(path: str, state: FeedState, salt: str = "") -> tuple[str, datetime | None]:
    key = f"{path}|{state.newest_id}|{state.last_id}|{salt}"
    return f'"{hashlib.sha256(key.encode()).hexdigest()[:24]}"', state.newest_at


def _not_modified(request: Request, etag: str, modified: datetime | None) -> Response | None:
    headers = _cache_headers(etag, modified)
    match = request.headers.get("if-none-match")
    if match is not None:
        wanted = {tag.strip().removeprefix("W/") for tag in match.split(",")}
        return Response(status_code=304, headers=headers) if etag in wanted or "*" in wanted else None
    since = request.headers.get("if-modified-since")
    if since and modified is not None:
        try:
            when = parsedate_to_datetime(since)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is not None and modified.replace(microsecond=0) <= when:
            return Response(status_code=304, headers=headers)
    return None


def _cache_headers(etag: str, modified: datetime | None) -> dict[str, str]:
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if modified is not None:
        headers["Last-Modified"] = format_datetime(modified.astimezone(UTC), usegmt=True)
    return headers


# --- rendering -----------------------------------------------------------------------------------


def _render(request: Request, feed: Feed, kind: str, etag: str, modified: datetime | None) -> Response:
    headers = _cache_headers(etag, modified)
    if kind == "atom":
        return Response(render_text("feed.atom", feed=feed), media_type=ATOM_TYPE, headers=headers)
    document = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": feed.title,
        "home_page_url": feed.home_url,
        "feed_url": feed.self_url,
        "items": [
            {
                "id": entry.id,
                "url": entry.link,
                **({"external_url": entry.board_url} if entry.board_url else {}),
                "title": entry.title,
                "content_text": entry.summary,
                "date_published": plain(entry.updated),
                "_rolewatch": {"event": entry.record},
            }
            for entry in feed.entries
        ],
    }
    body = json.dumps(document, ensure_ascii=False, indent=2)
    return Response(body, media_type=JSON_FEED_TYPE, headers=headers)


def _feed(request: Request, title: str, home: str, entries: list[FeedEntry], newest: datetime | None) -> Feed:
    base = str(request.base_url).rstrip("/")
    return Feed(
        id=stable_id("feed", request.url.path),
        title=title,
        updated=newest or datetime(1970, 1, 1, tzinfo=UTC),
        self_url=str(request.url),
        home_url=base + home,
        entries=entries,
    )


def _kind(request: Request) -> str:
    return "atom" if request.url.path.endswith(".atom") else "json"


def _event_feed(request: Request, wanted: EventFilter, title: str, home: str) -> Response:
    context = web(request)
    etag, modified = _validators(request.url.path, feed_state(context.engine, wanted))
    unchanged = _not_modified(request, etag, modified)
    if unchanged is not None:
        return unchanged
    page = event_page(context.engine, wanted, limit=context.config.web.page_size)
    entries = [_entry(request, item.event, f"/postings/{item.posting_id}") for item in page.items]
    return _render(request, _feed(request, title, home, entries, modified), _kind(request), etag, modified)


def all_events(request: Request) -> Response:
    return _event_feed(request, EventFilter(), "rolewatch: all events", "/events")


def source_events(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in source_names(web(request).engine):
        raise HTTPException(404, f"no source {name!r}")
    return _event_feed(
        request, EventFilter(source=name), f"rolewatch: events on {name}", f"/sources/{quote(name)}"
    )


def subscription_events(request: Request) -> Response:
    """Exactly the events the subscription alerts on, newest first: the outbox rows the notifier wrote
    for it, so a repost or a duplicate it stayed quiet about is not in its feed either."""
    context = web(request)
    name = request.path_params["name"]
    try:
        subscription = context.config.subscription(name)
    except ConfigError:
        raise HTTPException(404, f"no subscription {name!r}") from None
    salt = subscription.model_dump_json()
    etag, _ = _validators(request.url.path, feed_state(context.engine, EventFilter()), salt)
    unchanged = _not_modified(request, etag, None)
    if unchanged is not None:
        return unchanged
    alerts = alerted_events(context.engine, name, context.config.web.page_size)
    entries = [
        _entry(
            request,
            alert.event,
            f"/postings/{quote(alert.event.source)}/{quote(alert.event.external_id, safe='')}",
        )
        for alert in alerts
    ]
    updated = max((entry.updated for entry in entries), default=None)
    feed = _feed(request, f"rolewatch: {name}", f"/subscriptions/{quote(name)}", entries, updated)
    return _render(request, feed, _kind(request), etag, None)


ROUTES = [
    Route("/feeds/events.atom", all_events),
    Route("/feeds/events.json", all_events),
    Route("/feeds/sources/{name}.atom", source_events),
    Route("/feeds/sources/{name}.json", source_events),
    Route("/feeds/subscriptions/{name}.atom", subscription_events),
    Route("/feeds/subscriptions/{name}.json", subscription_events),
]
