"""The dashboard's HTML pages: overview, events, postings, one posting, sources, subscriptions, charts.

Each handler is a plain function (Starlette runs it in a worker thread, so a database read never
holds up the event loop) that reads through `storage/` and renders one template.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from rolewatch.config import ConfigError
from rolewatch.domain import EventType
from rolewatch.web import charts, params
from rolewatch.web.auth import feed_token
from rolewatch.web.context import web
from rolewatch.web.matches import subscription_matches
from rolewatch.web.paging import encode_cursor
from rolewatch.web.search import posting_search
from rolewatch.web.templating import render_page
from storage import browse, trends
from storage.queries import posting_history

EVENT_TYPES = tuple(kind.value for kind in EventType)


def overview(request: Request) -> Response:
    context = web(request)
    figures = browse.overview(context.engine, datetime.now(UTC))
    return render_page(request, "overview.html", title="Overview", figures=figures)


def events(request: Request) -> Response:
    context = web(request)
    query = request.query_params
    now = datetime.now(UTC)
    wanted = browse.EventFilter(
        type=params.choice(query, "type", EVENT_TYPES),
        source=params.text(query, "source"),
        company=params.text(query, "company"),
        since=params.moment(query, "since", now),
        until=params.moment(query, "until", now),
    )
    after = params.cursor(query, (datetime, int))
    page = browse.event_page(
        context.engine, wanted, after=after, limit=params.limit(query, context.config.web.page_size)
    )
    return render_page(
        request,
        "events.html",
        title="Events",
        page=page,
        rows=[{"event": item.event, "href": f"/postings/{item.posting_id}"} for item in page.items],
        next_cursor=encode_cursor(page.cursor),
        event_types=EVENT_TYPES,
        sources=browse.source_names(context.engine),
        feed=_feed_links(request, "/feeds/events"),
    )


def postings(request: Request) -> Response:
    context = web(request)
    query = request.query_params
    search = posting_search(query, context.config)
    shape: tuple[type, ...] = (str, int) if search.where.sort == "title" else (int,)
    page = browse.posting_page(
        context.engine,
        search.where,
        after=params.cursor(query, shape),
        limit=params.limit(query, context.config.web.page_size),
        accepts=search.accepts,
        with_description=search.reads_description,
    )
    return render_page(
        request,
        "postings.html",
        title="Postings",
        page=page,
        next_cursor=encode_cursor(page.cursor),
        sorts=browse.POSTING_SORTS,
        sources=browse.source_names(context.engine),
        search=search,
    )


def posting(request: Request) -> Response:
    ref = request.path_params["ref"]
    history = posting_history(web(request).engine, ref)
    if history is None:
        raise HTTPException(404, f"no posting {ref!r}")
    return render_page(request, "posting.html", title=history.posting.title, history=history)


def sources(request: Request) -> Response:
    health = browse.source_health(web(request).engine)
    return render_page(request, "sources.html", title="Sources", sources=health)


def source(request: Request) -> Response:
    context = web(request)
    name = request.path_params["name"]
    health = next(iter(browse.source_health(context.engine, name)), None)
    if health is None:
        raise HTTPException(404, f"no source {name!r}")
    before = params.cursor(request.query_params, (int,))
    page = browse.crawl_page(
        context.engine, name, before=before[0] if before else None, limit=context.config.web.page_size
    )
    return render_page(
        request,
        "source.html",
        title=name,
        source=health,
        page=page,
        next_cursor=encode_cursor(page.cursor),
        feed=_feed_links(request, f"/feeds/sources/{quote(name)}"),
    )


def subscriptions(request: Request) -> Response:
    listed = web(request).config.subscriptions
    return render_page(request, "subscriptions.html", title="Subscriptions", subscriptions=listed)


def subscription(request: Request) -> Response:
    context = web(request)
    name = request.path_params["name"]
    try:
        chosen = context.config.subscription(name)
    except ConfigError:
        raise HTTPException(404, f"no subscription {name!r}") from None
    now = datetime.now(UTC)
    since = params.moment(request.query_params, "since", now) or now - timedelta(days=7)
    page = subscription_matches(
        context,
        name,
        since,
        params.cursor(request.query_params, (datetime, int)),
        params.limit(request.query_params, context.config.web.page_size),
    )
    return render_page(
        request,
        "subscription.html",
        title=name,
        subscription=chosen,
        filters=_filters(chosen.model_dump(exclude={"notify", "name"})),
        page=page,
        since=since,
        next_cursor=encode_cursor(page.cursor),
        feed=_feed_links(request, f"/feeds/subscriptions/{quote(name)}"),
    )


def _filters(document: dict[str, object]) -> list[tuple[str, object]]:
    """The subscription's settings worth showing; channels are left out (they hold secrets)."""
    return [(key, value) for key, value in document.items() if value not in (None, [], "")]


def chart_page(request: Request) -> Response:
    context = web(request)
    query = request.query_params
    days = int(params.choice(query, "days", ("7", "30", "90"), "30") or "30")
    company = params.text(query, "company")
    now = datetime.now(UTC)
    counts = trends.daily_counts(context.engine, now, days, company)
    closing = trends.close_times(context.engine, now, days, company)
    return render_page(
        request,
        "charts.html",
        title="Charts",
        days=days,
        company=company,
        activity=charts.activity_chart(counts),
        open_chart=charts.open_chart(counts),
        close_chart=charts.close_time_chart(closing),
        counts=counts,
        closing=closing,
    )


def _feed_links(request: Request, base: str) -> dict[str, str]:
    """The Atom and JSON Feed addresses of a page's feed, each with its own token when feeds need one."""
    auth = web(request).config.web.auth
    links = {}
    for kind, suffix in (("atom", ".atom"), ("json", ".json")):
        path = base + suffix
        links[kind] = f"{path}?token={feed_token(auth.feed_key, path)}" if auth.feed_key else path
    return links


ROUTES = [
    Route("/", overview, name="overview"),
    Route("/events", events, name="events"),
    Route("/postings", postings, name="postings"),
    Route("/postings/{ref:path}", posting, name="posting"),
    Route("/sources", sources, name="sources"),
    Route("/sources/{name}", source, name="source"),
    Route("/subscriptions", subscriptions, name="subscriptions"),
    Route("/subscriptions/{name}", subscription, name="subscription"),
    Route("/charts", chart_page, name="charts"),
]
