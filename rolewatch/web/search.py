"""`/postings?q=…`: the subscriptions' own query language and structured filters, applied to postings.

A search is compiled exactly as a subscription is (`notifier.query`, `notifier.matching`), so a
query tried on the page behaves the same once it is put in the configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pydantic import ValidationError
from starlette.datastructures import QueryParams
from starlette.exceptions import HTTPException

from notifier.matching import compile_filter
from notifier.query import Node, Not, QuerySyntaxError, Term, compile_query
from rolewatch.config import Config, Subscription, format_loc
from rolewatch.domain import Posting
from rolewatch.resolve import validation_context
from storage.browse import POSTING_SORTS, PostingFilter

#: Query parameter → subscription field; each may be repeated (`?location=Sydney&location=Remote`).
LIST_FILTERS = {
    "company": "companies",
    "location": "locations",
    "employment_type": "employment_types",
    "workplace": "workplace",
    "sponsorship": "sponsorship",
}


@dataclass(frozen=True)
class PostingSearch:
    """What storage can narrow by index, and the rest as a predicate (None when storage does it all).

    `reads_description` is False when no query term can look at the description, so storage need
    not read it (it is most of a posting's text).
    """

    where: PostingFilter
    accepts: Callable[[Posting], bool] | None
    reads_description: bool = True


def posting_search(params: QueryParams, config: Config) -> PostingSearch:
    subscription = _as_subscription(params)
    sort = params.get("sort") or "newest"
    if sort not in POSTING_SORTS:
        raise HTTPException(400, f"sort: one of {', '.join(POSTING_SORTS)}")
    where = PostingFilter(
        open_only=params.get("status", "open") != "all",
        source=params.get("source") or None,
        employment_types=tuple(subscription.employment_types),
        sort=sort,
    )
    structured_only = any(
        getattr(subscription, field) for field in ("companies", "locations", "workplace", "sponsorship")
    )
    if not subscription.query and not structured_only and subscription.min_salary is None:
        return PostingSearch(where, None)
    query = compile_query(subscription.query) if subscription.query else None
    structured = compile_filter(subscription, config.salary_conversions)
    filtered = structured_only or subscription.min_salary is not None

    def accepts(posting: Posting) -> bool:
        if query is not None and not query.matches(posting):
            return False
        return not filtered or structured.accepts(posting)

    fields = fields_used(query.node) if query is not None else set()
    return PostingSearch(where, accepts, reads_description=bool(fields & {"description", "*"}))


def fields_used(node: Node) -> set[str]:
    """The fields a compiled query's terms look in (`*` for a term without a field prefix)."""
    if isinstance(node, Term):
        return {node.field}
    if isinstance(node, Not):
        return fields_used(node.child)
    return set().union(*(fields_used(child) for child in node.children))


def _as_subscription(params: QueryParams) -> Subscription:
    fields: dict[str, object] = {
        field: [value for value in params.getlist(name) if value.strip()]
        for name, field in LIST_FILTERS.items()
    }
    fields["query"] = params.get("q", "").strip() or None
    if params.get("min_salary"):
        fields["min_salary"] = {
            "amount": params.get("min_salary"),
            "currency": params.get("currency", "USD").upper(),
            "per": params.get("per", "year"),
        }
    try:
        subscription = Subscription.model_validate({"name": "search", **fields}, context=validation_context())
        if subscription.query:
            compile_query(subscription.query)
    except ValidationError as error:
        problems = "; ".join(f"{format_loc(e['loc'])}: {e['msg']}" for e in error.errors())
        raise HTTPException(400, problems) from None
    except QuerySyntaxError as error:
        raise HTTPException(400, f"q: {error}") from None
    return subscription
