"""A search over stored postings in the subscriptions' own query language and structured filters.

The one code path behind `rolewatch postings`, the web's `/postings?q=…` and `rolewatch.api`: a search
is validated and compiled exactly as a subscription is (`rolewatch.config.Subscription`,
`notifier.query`, `notifier.matching`), so a query tried here behaves the same in the configuration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy.engine import Engine

from notifier.matching import compile_filter
from notifier.query import Node, Not, QuerySyntaxError, Term, compile_query
from rolewatch.config import SalaryConversion, Subscription, format_loc
from rolewatch.domain import Posting
from rolewatch.resolve import validation_context
from storage import browse
from storage.browse import PostingFilter
from storage.queries import PostingDetail

__all__ = [
    "PostingSearch",
    "QuerySyntaxError",
    "SearchError",
    "check_source",
    "compile_search",
    "matching_details",
    "parse_min_salary",
    "search_subscription",
]

#: Subscription fields a search takes, each a list of values.
LIST_FIELDS = ("companies", "locations", "employment_types", "workplace", "sponsorship")
BATCH = 500


class SearchError(ValueError):
    """Filters a subscription would refuse; the message names each field at fault."""


@dataclass(frozen=True)
class PostingSearch:
    """What storage can narrow by index, and the rest as a predicate (None when storage does it all).

    `reads_description` is False when no query term can look at the description, so storage need
    not read it (it is most of a posting's text).
    """

    where: PostingFilter
    accepts: Callable[[Posting], bool] | None
    reads_description: bool = True


def search_subscription(query: str | None = None, **fields: Any) -> Subscription:
    """The search as a subscription named `search`; QuerySyntaxError or SearchError when it is not one.

    `fields` are `Subscription` fields (`locations=[…]`, `min_salary={"amount": …}`); empty ones are dropped.
    """
    text = (query or "").strip() or None
    if text:
        compile_query(text)  # its own error, with the position at fault
    given = {name: value for name, value in fields.items() if value not in (None, (), [], "")}
    given = {name: list(value) if name in LIST_FIELDS else value for name, value in given.items()}
    try:
        return Subscription.model_validate(
            {"name": "search", "query": text, **given}, context=validation_context()
        )
    except ValidationError as error:
        raise SearchError("; ".join(f"{format_loc(e['loc'])}: {e['msg']}" for e in error.errors())) from None


def compile_search(
    subscription: Subscription,
    conversions: Sequence[SalaryConversion] = (),
    *,
    open_only: bool = False,
    source: str | None = None,
    sort: str = "oldest",
) -> PostingSearch:
    """The storage filter and the Python predicate for a search built by `search_subscription`."""
    where = PostingFilter(
        open_only=open_only,
        source=source,
        employment_types=tuple(subscription.employment_types),
        sort=sort,
    )
    structured_only = any(
        getattr(subscription, field) for field in ("companies", "locations", "workplace", "sponsorship")
    )
    if not subscription.query and not structured_only and subscription.min_salary is None:
        return PostingSearch(where, None)
    query = compile_query(subscription.query) if subscription.query else None
    structured = compile_filter(subscription, conversions)
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


def parse_min_salary(text: str) -> Mapping[str, Any]:
    """`AMOUNT:CURRENCY[:PER]` (`40:USD:hour`, `80000:AUD`) as the configuration's `min_salary` mapping."""
    parts = [part.strip() for part in text.split(":")]
    if len(parts) not in (2, 3) or not all(parts):
        raise SearchError(f"min_salary: {text!r} is not AMOUNT:CURRENCY[:PER] (e.g. 40:USD:hour)")
    amount = parts[0].replace(",", "").replace("_", "")
    found: dict[str, Any] = {"amount": amount, "currency": parts[1].upper()}
    if len(parts) == 3:
        found["per"] = parts[2].lower()
    return found


def check_source(engine: Engine, configured: Iterable[str], name: str | None) -> str | None:
    """`name` when a source of that name is configured or stored; SearchError listing them otherwise."""
    if name is None:
        return None
    known = sorted(set(configured) | set(browse.source_names(engine)))
    if name not in known:
        listed = ", ".join(known) if known else "none are configured or stored"
        raise SearchError(f"unknown source {name!r} (known: {listed})")
    return name


def matching_details(
    engine: Engine, search: PostingSearch, limit: int | None = None
) -> Iterator[PostingDetail]:
    """Every posting the search matches, in its order, with every stored field, read a batch at a time."""
    after: tuple[Any, ...] | None = None
    given = 0
    while limit is None or given < limit:
        page = browse.posting_page(
            engine,
            search.where,
            after=after,
            limit=BATCH if limit is None else min(BATCH, limit - given),
            accepts=search.accepts,
            with_description=search.reads_description,
        )
        for detail in browse.posting_details(engine, [item.id for item in page.items]):
            yield detail
            given += 1
        if page.cursor is None:
            return
        after = page.cursor
