"""JSON APIs read through JMESPath field mappings (checked as they load): read by `crawler.spiders.json`."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Annotated, Any, Literal

import jmespath
from jmespath import exceptions as jmespath_errors
from jmespath.functions import Functions
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, field_validator, model_validator

from crawler.registry import SourceType
from crawler.spiders._options import OptionBlock, paths_need_base, rehost
from rolewatch.config import SourceOptions, WebUrl


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


SOURCE_TYPE = SourceType(
    name="json",
    description="any JSON API, mapped with JMESPath (items, fields, paging by page, offset or next link)",
    options=Options,
    spider="crawler.spiders.json:JsonSpider",
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
