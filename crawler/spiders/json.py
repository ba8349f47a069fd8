"""Any JSON API, mapped to postings with JMESPath: `items` finds the list, `fields` each posting's parts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from copy import deepcopy
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal
from urllib.parse import urljoin, urlsplit

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath.functions import Functions
from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)
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
from crawler.registry import SourceType
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
from crawler.spiders._options import OptionBlock, paths_need_base, rehost
from crawler.spiders._paging import read_page
from rolewatch.config import SourceOptions, WebUrl
from rolewatch.domain import Posting, Salary, WorkRights

# Request meta keys: the page state travels with each request (the base class replaces callbacks).
_PAGE = "json_page"  # 1 for the first request, 2 for the next…
_POSITION = "json_position"  # the page number or offset this request asked for
_SEEN = "json_seen"  # items read on the pages before this one
_VISITED = "json_visited"  # next links / cursors already followed (a cycle is the end)
_URL = "json_url"  # the URL before this page's parameters were added
_ORIGIN = "json_origin"  # this page's URL on the real service, before `base_url` moved it


# --- expressions: compiled when the configuration is validated ---------------------------------


@lru_cache(maxsize=4096)
def compiled(expression: str) -> Any:
    """The parsed JMESPath expression; cached, since every record evaluates the same few."""
    return jmespath.compile(expression)


def _checked_expression(expression: str) -> str:
    """Refuse a malformed expression or an unknown function now, not at the first crawl."""
    try:
        parsed = compiled(expression)
    except jmespath_errors.EmptyExpressionError:
        raise ValueError("empty JMESPath expression") from None
    except jmespath_errors.LexerError as exc:
        raise ValueError(
            f"not a JMESPath expression ({exc.message} at position {exc.lexer_position} in {expression!r})"
        ) from None
    except jmespath_errors.IncompleteExpressionError:
        raise ValueError(f"not a JMESPath expression ({expression!r} ends too soon)") from None
    except jmespath_errors.ParseError as exc:
        raise ValueError(
            f"not a JMESPath expression (unexpected {exc.token_value!r} at position {exc.lex_position} "
            f"in {expression!r})"
        ) from None
    _check_functions(parsed.parsed)
    return expression


def _check_functions(node: Mapping[str, Any]) -> None:
    """jmespath only notices an unknown function or a wrong argument count when it runs."""
    if node.get("type") == "function_expression":
        name, arguments = node.get("value"), len(node.get("children") or ())
        known = Functions().FUNCTION_TABLE.get(name)
        if known is None:
            raise ValueError(f"unknown JMESPath function {name}()")
        signature = known["signature"]
        variadic = bool(signature) and signature[-1].get("variadic", False)
        if arguments < len(signature) or (arguments > len(signature) and not variadic):
            wanted = f"at least {len(signature)}" if variadic else str(len(signature))
            raise ValueError(f"{name}() takes {wanted} argument(s), got {arguments}")
    for child in node.get("children") or ():
        if isinstance(child, Mapping):
            _check_functions(child)


#: A JMESPath expression, checked when the configuration is loaded.
Expression = Annotated[str, AfterValidator(_checked_expression)]


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


# --- options -----------------------------------------------------------------------------------


class SalaryFields(OptionBlock):
    """Pay as an API states it: a structured range, a text, or both (the text is kept either way)."""

    text: Expression | None = Field(None, description="the pay as written (parsed when min/max are absent)")
    min: Expression | None = Field(None, description="lower bound, a number or numeric string")
    max: Expression | None = Field(None, description="upper bound, a number or numeric string")
    currency: Expression | None = Field(
        None, description="ISO 4217 code or symbol; also the default currency for `text`"
    )
    period: Expression | None = Field(None, description="hour/day/week/month/year in the API's own words")

    @model_validator(mode="after")
    def _says_something(self) -> SalaryFields:
        if self.text is None and self.min is None and self.max is None:
            raise ValueError("give `text`, or `min` and/or `max`")
        return self


def _salary_shorthand(value: Any) -> Any:
    """`salary: "pay.text"` is short for `salary: {text: "pay.text"}`; its errors stay under `salary`."""
    return {"text": _checked_expression(value)} if isinstance(value, str) else value


class Fields(OptionBlock):
    """Where each part of a posting is within one item; only `id` and `title` cannot be done without."""

    id: Expression = Field(description="the posting's id within this API (required)")
    title: Expression = Field(description="the title (required)")
    company: Expression | None = Field(None, description="the company (default: the `company` option)")
    url: Expression | None = Field(
        None, description="the posting's page; relative links resolve against `url`"
    )
    apply_url: Expression | None = Field(None, description="the application page (default: `url`)")
    locations: Expression | None = Field(None, description="a place or a list of places")
    department: Expression | None = Field(None, description="department or team")
    workplace: Expression | None = Field(None, description="on-site/hybrid/remote in the API's own words")
    employment_type: Expression | None = Field(
        None, description="full-time, intern… (else read from the title)"
    )
    salary: Annotated[SalaryFields | None, BeforeValidator(_salary_shorthand)] = Field(
        None, description="an expression for the pay text, or {text, min, max, currency, period}"
    )
    posted_at: Expression | None = Field(None, description="when it was posted (ISO, epoch, or a date text)")
    deadline: Expression | None = Field(None, description="when applications close")
    description: Expression | None = Field(None, description="the description, HTML or plain text")
    extra: dict[str, Expression] = Field(
        default_factory=dict, description="other values to keep with the posting, by name"
    )


class Paging(OptionBlock):
    """How the API pages: by page number, by offset, or by following a next link or cursor."""

    type: Literal["page", "offset", "next"] = Field(description="page, offset or next")
    param: str | None = Field(
        None, description="page/offset parameter (default page/offset); for next: the cursor parameter"
    )
    start: int | None = Field(None, ge=0, description="first page number (default 1) or offset (default 0)")
    size_param: str | None = Field(None, description="page: the page-size parameter to send")
    size: int | None = Field(None, ge=1, description="page: items per page; a shorter page is the last")
    limit_param: str | None = Field(None, description="offset: the page-size parameter to send")
    limit: int | None = Field(None, ge=1, description="offset: items per request; a shorter page is the last")
    total: Expression | None = Field(
        None, description="page/offset: the API's total item count, if it has one"
    )
    next: Expression | None = Field(None, description="next: the next page's URL, or the cursor with `param`")
    in_: Literal["query", "body"] = Field(
        "query", alias="in", description="where paging parameters go: query string or JSON body (POST)"
    )

    @model_validator(mode="after")
    def _keys_fit_the_type(self) -> Paging:
        own = {"page": {"size_param", "size", "total"}, "offset": {"limit_param", "limit", "total"}}
        shared = {"type", "param", "in_"} | ({"start"} if self.type != "next" else {"next"})
        allowed = shared | own.get(self.type, set())
        wrong = sorted(
            name.rstrip("_") for name in self.model_fields_set - allowed if getattr(self, name) is not None
        )
        if wrong:
            raise ValueError(f"{', '.join(wrong)} cannot be used with `type: {self.type}` paging")
        if self.type == "next" and self.next is None:
            raise ValueError("`type: next` paging needs `next`, the expression for the next page")
        if self.size_param is not None and self.size is None:
            raise ValueError("`size_param` needs `size`, the page size to ask for")
        if self.limit_param is not None and self.limit is None:
            raise ValueError("`limit_param` needs `limit`, the page size to ask for")
        return self

    @property
    def position_param(self) -> str | None:
        return self.param or {"page": "page", "offset": "offset"}.get(self.type)

    @property
    def first(self) -> int:
        return self.start if self.start is not None else (1 if self.type == "page" else 0)

    @property
    def page_size(self) -> int | None:
        return self.size if self.type == "page" else self.limit

    @property
    def page_size_param(self) -> str | None:
        return self.size_param if self.type == "page" else self.limit_param


def service_url(url: str, base_url: str | None) -> str:
    """The address on the real service: `url` itself, or a `/path` placed on `base_url`."""
    return rehost(url, base_url) if url.startswith("/") else url


class Options(SourceOptions):
    url: WebUrl = Field(description="the API endpoint (the first page); a /path is taken on `base_url`")
    method: Literal["GET", "POST"] = Field("GET", description="GET or POST")
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers")
    body: dict[str, Any] | list[Any] | None = Field(None, description="JSON request body (POST only)")
    items: Expression = Field("@", description="where the list of postings is (default: the whole response)")
    fields: Fields = Field(description="where each part of a posting is, relative to one item")
    paging: Paging | None = Field(None, description="how to ask for more pages (default: one request)")
    max_pages: int = Field(
        100, ge=1, le=10_000, description="stop after this many pages (the crawl is partial)"
    )
    closed_when: Expression | None = Field(
        None, description="an expression on an item; truthy means the API says the posting is closed"
    )
    company: str | None = Field(None, description="company name when `fields.company` finds none")

    @field_validator("url")
    @classmethod
    def _path_needs_base(cls, value: str, info: ValidationInfo) -> str:
        paths_need_base([value], info)
        return value

    @property
    def service(self) -> str:
        """The first page's address on the real service (links in responses are relative to it)."""
        return service_url(self.url, self.base_url)

    @field_validator("method", mode="before")
    @classmethod
    def _upper_case(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("body")
    @classmethod
    def _body_needs_post(cls, value: Any, info: ValidationInfo) -> Any:
        if value is not None and info.data.get("method") == "GET":
            raise ValueError("a request body needs `method: POST`")
        return value

    @field_validator("paging")
    @classmethod
    def _body_paging_needs_post(cls, value: Paging | None, info: ValidationInfo) -> Paging | None:
        if value is not None and value.in_ == "body":
            if info.data.get("method") != "POST":
                raise ValueError("`in: body` paging needs `method: POST`")
            if isinstance(info.data.get("body"), list):
                raise ValueError("`in: body` paging needs `body` to be a JSON object")
        return value


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


SOURCE_TYPE = SourceType(
    name="json",
    description="any JSON API, mapped with JMESPath (items, fields, paging by page, offset or next link)",
    options=Options,
    spider=JsonSpider,
    example={
        "name": "arbeitnow",
        "type": "json",
        "url": "https://www.arbeitnow.com/api/job-board-api",
        "items": "data",
        "fields": {
            "id": "slug",
            "title": "title",
            "company": "company_name",
            "url": "url",
            "locations": "location",
            "employment_type": "job_types",
            "posted_at": "created_at",
            "description": "description",
        },
        "paging": {"type": "next", "next": "links.next"},
        "max_pages": 10,
    },
)
