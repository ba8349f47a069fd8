"""`/postings?q=…`: the subscriptions' own query language and structured filters, applied to postings.

A search is compiled exactly as a subscription is (`notifier.query`, `notifier.matching`), so a
query tried on the page behaves the same once it is put in the configuration.
"""

from __future__ import annotations

from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from notifier.query import QuerySyntaxError
from rolewatch.config import Config, Subscription
from rolewatch.search import PostingSearch, SearchError, compile_search, fields_used, search_subscription
from storage.browse import POSTING_SORTS

__all__ = ["LIST_FILTERS", "PostingSearch", "fields_used", "posting_search"]

#: Query parameter → subscription field; each may be repeated (`?location=Sydney&location=Remote`).
LIST_FILTERS = {
    "company": "companies",
    "location": "locations",
    "employment_type": "employment_types",
    "workplace": "workplace",
    "sponsorship": "sponsorship",
}


def posting_search(params: QueryParams, config: Config) -> PostingSearch:
    subscription = _as_subscription(params)
    sort = params.get("sort") or "newest"
    if sort not in POSTING_SORTS:
        raise HTTPException(400, f"sort: one of {', '.join(POSTING_SORTS)}")
    return compile_search(
        subscription,
        config.salary_conversions,
        open_only=params.get("status", "open") != "all",
        source=params.get("source") or None,
        sort=sort,
    )


def _as_subscription(params: QueryParams) -> Subscription:
    fields: dict[str, object] = {
        field: [value for value in params.getlist(name) if value.strip()]
        for name, field in LIST_FILTERS.items()
    }
    if params.get("min_salary"):
        fields["min_salary"] = {
            "amount": params.get("min_salary"),
            "currency": params.get("currency", "USD").upper(),
            "per": params.get("per", "year"),
        }
    try:
        return search_subscription(params.get("q", ""), **fields)
    except SearchError as error:
        raise HTTPException(400, str(error)) from None
    except QuerySyntaxError as error:
        raise HTTPException(400, f"q: {error}") from None
