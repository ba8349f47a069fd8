"""Any JSON API, mapped to postings with JMESPath: `items` finds the list, `fields` each posting's parts."""

from __future__ import annotations

import json
from collections.abc import Iterable
from copy import deepcopy
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from jmespath import exceptions as jmespath_errors
from scrapy import Request
from scrapy.http import Response
from w3lib.url import add_or_replace_parameter

from crawler.normalize.dates import parse_datetime
from crawler.normalize.descriptions import describe
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_of
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text
from crawler.normalize.urls import canonical_url
from crawler.spider import (
    Board,
    BoardSpider,
    ListingError,
    ListingTruncated,
    PostingError,
    json_of,
    json_request,
    quoted_json,
)
from crawler.spiders._options import rehost
from crawler.spiders._paging import read_page
from crawler.types.json import Options, SalaryFields, compiled
from rolewatch.domain import Posting, Salary, WorkRights

# Request meta keys: the page state travels with each request (the base class replaces callbacks).
_PAGE = "json_page"  # 1 for the first request, 2 for the next…
_POSITION = "json_position"  # the page number or offset this request asked for
_SEEN = "json_seen"  # items read on the pages before this one
_VISITED = "json_visited"  # next links / cursors already followed (a cycle is the end)
_URL = "json_url"  # the URL before this page's parameters were added
_ORIGIN = "json_origin"  # this page's URL on the real service, before `base_url` moved it


# --- expressions: compiled when the configuration is validated (`crawler.types.json`) -------------


def search(expression: str, data: Any, what: str) -> Any:
    """Evaluate `expression`; a runtime JMESPath error (a type mismatch, say) names the key it came from."""
    try:
        return compiled(expression).search(data)
    except jmespath_errors.JMESPathError as exc:
        raise PostingError(f"{what} ({expression!r}) failed: {exc}") from None


def truthy(value: Any) -> bool:
    """JMESPath's truthiness: false, null, "", [] and {} are false; every number (0 too) is true."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list | dict) and len(value) == 0)


# --- the spider --------------------------------------------------------------------------------


class JsonSpider(BoardSpider[Options]):
    """Pages by number, offset or next link until the API's own end; the page cap makes it partial.

    Each raw record is `{"id": <the id expression's value>, "item": <the API's item>}`, so the
    base class can tell records apart before normalising without knowing this source's fields.
    """

    name = "json"

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        paging = board.options.paging
        position = paging.first if paging is not None and paging.type != "next" else None
        first = rehost(board.options.url, board.options.base_url)
        yield self._request(board, first, position, None, {_ORIGIN: board.options.service})

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        options = board.options
        data = json_of(response)
        items = self._items(data, options.items)
        page = int(response.meta.get(_PAGE, 1))
        found = [{"id": _identifier(_quiet_search(options.fields.id, item)), "item": item} for item in items]
        earlier, read = read_page(response, found, page, self.record_id)
        if earlier is not None:
            raise ListingError(f"page {page} repeats page {earlier}: does the API read `paging.param`?")
        yield from found
        follow = self._next(response, board, data, len(items))
        if follow is None:
            return
        if page >= options.max_pages:
            raise ListingTruncated(f"stopped after max_pages={options.max_pages}; the API has more")
        follow.meta.update(read)
        yield follow

    def _items(self, data: Any, expression: str) -> list[Any]:
        try:
            found = compiled(expression).search(data)
        except jmespath_errors.JMESPathError as exc:
            raise ListingError(f"`items` ({expression!r}) failed on this response: {exc}") from None
        if not isinstance(found, list):
            got = "nothing" if found is None else f"{type(found).__name__} {_brief(found)}"
            raise ListingError(
                f"`items` ({expression!r}) is not a list here (got {got}; response: {_brief(data)})"
            )
        return found

    def _next(self, response: Response, board: Board[Options], data: Any, count: int) -> Request | None:
        """The next page's request, or None at the listing's natural end."""
        paging = board.options.paging
        if paging is None:
            return None
        meta = response.meta
        page, seen = int(meta.get(_PAGE, 1)), int(meta.get(_SEEN, 0)) + count
        if paging.type == "next":
            assert paging.next is not None
            value = _quiet_search(paging.next, data)
            token = _identifier(value)
            if token is None:
                return None  # no next link: the last page
            visited: tuple[str, ...] = meta.get(_VISITED, ())
            if paging.param is None:
                origin = str(meta.get(_ORIGIN) or board.options.service)
                link = urljoin(origin, token)  # links are the real service's, even on a mirror
                same_service = urlsplit(link).netloc == urlsplit(board.options.service).netloc
                url = rehost(link, board.options.base_url) if same_service else link
                if url in visited or url == response.url:
                    return None  # a next link back to a page already read: everything was read
                state = {_VISITED: (*visited, response.url), _ORIGIN: link}
                return self._request(board, url, None, None, state, page + 1)
            if token in visited:
                return None
            first = rehost(board.options.url, board.options.base_url)
            return self._request(board, first, None, token, {_VISITED: (*visited, token)}, page + 1)
        if count == 0:
            return None  # an empty page is past the end
        total = _quiet_search(paging.total, data) if paging.total else None
        if isinstance(total, int | float) and not isinstance(total, bool):
            if seen >= total:
                return None
        elif paging.page_size is not None and count < paging.page_size:
            return None  # a short page is the last
        position = int(meta[_POSITION]) + (1 if paging.type == "page" else count)
        return self._request(board, str(meta[_URL]), position, None, {_SEEN: seen}, page + 1)

    def _request(
        self,
        board: Board[Options],
        url: str,
        position: int | None,
        cursor: str | None,
        meta: dict[str, Any],
        page: int = 1,
    ) -> Request:
        """One page's request: the configured method, headers and body, plus this page's parameters."""
        options, paging = board.options, board.options.paging
        params: dict[str, Any] = {}
        if paging is not None:
            if position is not None and paging.position_param:
                params[paging.position_param] = position
            if cursor is not None and paging.param:
                params[paging.param] = cursor
            if paging.page_size_param and paging.page_size is not None and paging.type != "next":
                params[paging.page_size_param] = paging.page_size
        target, body = url, deepcopy(options.body)
        if paging is not None and paging.in_ == "body":
            body = body if isinstance(body, dict) else {}
            for name, value in params.items():
                _set_dotted(body, name, value)
        else:
            for name, value in params.items():
                target = add_or_replace_parameter(target, name, str(value))
        state = {**meta, _PAGE: page, _POSITION: position, _URL: url}
        headers = dict(options.headers)
        if options.method == "POST":
            headers = {"Content-Type": "application/json", **headers}
            encoded = json.dumps(body if body is not None else {}, ensure_ascii=False).encode("utf-8")
            return json_request(target, method="POST", body=encoded, headers=headers, meta=state)
        return json_request(target, headers=headers, meta=state)

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        item, options = record["item"], board.options
        fields = options.fields
        external_id = record.get("id")
        if external_id is None:
            raise PostingError(f"`fields.id` ({fields.id!r}) found no id")

        def value(key: str) -> Any:
            expression = getattr(fields, key)
            return search(expression, item, f"fields.{key}") if expression else None

        def text(key: str) -> str | None:
            return flat_text(value(key))

        title = text("title")
        if not title:
            raise PostingError(f"`fields.title` ({fields.title!r}) found no title")
        places = place_texts(value("locations"))
        locations = parse_locations(places)
        html, plain = describe(value("description"))
        sponsorship = sponsorship_from_text(plain)
        url = canonical_url(text("url"), base=options.service)
        now = datetime.now(UTC)
        extra = {name: search(expr, item, f"fields.extra.{name}") for name, expr in fields.extra.items()}
        closed = options.closed_when is not None and truthy(search(options.closed_when, item, "closed_when"))
        return Posting(
            source=board.name,
            external_id=external_id,
            title=title,
            url=url,
            apply_url=canonical_url(text("apply_url"), base=options.service) or url,
            company=text("company") or clean_text(options.company) or None,
            department=text("department"),
            locations=locations,
            workplace=workplace_of(text("workplace"), places, locations),
            employment_type=employment_type(text("employment_type"), title),
            salary=self._salary(item, fields.salary),
            posted_at=parse_datetime(_scalar(value("posted_at")), now=now),
            deadline=parse_datetime(_scalar(value("deadline")), now=now),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=plain,
            description_html=html,
            extra={name: found for name, found in extra.items() if found is not None},
            closed=closed,
        )

    def _salary(self, item: Any, salary: SalaryFields | None) -> Salary | None:
        """A structured range when `min`/`max` give one, else the pay text read as a range."""
        if salary is None:
            return None

        def value(key: str) -> Any:
            expression = getattr(salary, key)
            return _scalar(search(expression, item, f"fields.salary.{key}")) if expression else None

        stated = flat_text(value("text"))
        currency, period = flat_text(value("currency")), flat_text(value("period"))
        structured = salary_from_range(value("min"), value("max"), currency, period, stated)
        return structured or parse_salary_text(stated, default_currency=currency)


# --- reading values --------------------------------------------------------------------------------


def flat_text(value: Any) -> str | None:
    """A value as one whitespace-normalised text: numbers as written, lists joined; None when empty."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str):
        return clean_text(value) or None
    if isinstance(value, list):
        parts = [part for part in (flat_text(v) for v in value) if part]
        return ", ".join(parts) or None
    return None


def place_texts(value: Any) -> list[str]:
    """Every place text in a string or a (nested) list of them; anything else is ignored."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [place for part in value for place in place_texts(part)]
    return []


def _identifier(value: Any) -> str | None:
    """An id or cursor as text: strings and whole numbers; None for anything that cannot be one."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str | int | float):
        text = str(value).strip()
        return text or None
    return None


def _scalar(value: Any) -> Any:
    """The first usable value when an expression yields a list (`dates[0]` forgotten, say)."""
    if isinstance(value, list):
        return next((v for v in value if v is not None and v != ""), None)
    return value


def _quiet_search(expression: str | None, data: Any) -> Any:
    """For ids and paging: an expression that fails finds nothing (the caller says what that means)."""
    if not expression:
        return None
    try:
        return compiled(expression).search(data)
    except jmespath_errors.JMESPathError:
        return None


def _set_dotted(body: dict[str, Any], path: str, value: Any) -> None:
    """Set `a.b.c` in a JSON body, creating the objects on the way."""
    *parents, last = path.split(".")
    node = body
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def _brief(data: Any) -> str:
    return quoted_json(data)  # short, control-free, and nothing of a redirected response
