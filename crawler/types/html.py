"""Career pages read with CSS or XPath selectors (checked as they load): read by `crawler.spiders.html`."""

from __future__ import annotations

import re
from typing import Annotated

from cssselect import SelectorError
from lxml import etree
from parsel import Selector, SelectorList
from pydantic import AfterValidator, Field, ValidationInfo, field_validator, model_validator

from crawler.registry import SourceType
from crawler.spiders._options import OptionBlock, paths_need_base
from rolewatch.config import SourceOptions, WebUrl

#: Selectors are tried from every element of this page when the configuration is loaded, so an
#: unknown XPath function is refused there too (lxml only notices those while evaluating).
_PROBE = Selector(
    text='<html><body><div id="p" class="p"><ul><li class="p"><a href="/p">p</a><span>p</span>'
    "</li></ul><table><tr><td>p</td></tr></table><p>p</p></div></body></html>"
)


_PROBE_NODES = _PROBE.xpath("//*")


_XPATH_STARTS = ("/", "(", "./", "..", "@")


#: An XPath function call (`normalize-space(…)`, `string(…)`); no CSS selector can start like that.
_XPATH_FUNCTION = re.compile(r"^[a-z][a-z-]*\(")


def is_xpath(selector: str) -> bool:
    """XPath starts with `/`, `(`, `./`, `..`, `@` or a function call; anything else is CSS.

    CSS may end in parsel's `::text` or `::attr(name)` to select text or an attribute.
    """
    text = selector.lstrip()
    return text.startswith(_XPATH_STARTS) or bool(_XPATH_FUNCTION.match(text))


def select(node: Selector, selector: str) -> SelectorList[Selector]:
    """Evaluate a CSS or XPath selector relative to `node`."""
    return node.xpath(selector) if is_xpath(selector) else node.css(selector)


def _checked_selector(selector: str) -> str:
    """Refuse a selector that cannot compile (or names an unknown XPath function) now, not mid-crawl."""
    if not selector.strip():
        raise ValueError("empty selector")
    kind = "XPath" if is_xpath(selector) else "CSS selector"
    try:
        for node in _PROBE_NODES:
            select(node, selector)
    except (SelectorError, ValueError, etree.XPathError) as exc:
        detail = str(exc).removeprefix("XPath error: ")
        raise ValueError(f"not a valid {kind} ({detail}): {selector!r}") from None
    return selector


def _checked_item_selector(selector: str) -> str:
    selector = _checked_selector(selector)
    if not is_xpath(selector) and "::" in selector:
        raise ValueError(f"`item` must select elements, not text or attributes: {selector!r}")
    return selector


#: A CSS selector or an XPath expression, checked when the configuration is loaded.
SelectorText = Annotated[str, AfterValidator(_checked_selector)]


class Fields(OptionBlock):
    """Where each part of a posting is within one item; a posting needs a title and an identity."""

    id: SelectorText | None = Field(None, description="the posting's id (else the canonical `url` is its id)")
    title: SelectorText = Field(description="the title (required)")
    url: SelectorText | None = Field(
        None, description="the posting's link; relative links resolve on the page"
    )
    apply_url: SelectorText | None = Field(None, description="the application link (default: `url`)")
    company: SelectorText | None = Field(None, description="the company (default: the `company` option)")
    department: SelectorText | None = Field(None, description="department or team")
    locations: SelectorText | None = Field(None, description="the places; each match is one place")
    workplace: SelectorText | None = Field(None, description="on-site/hybrid/remote in the page's own words")
    employment_type: SelectorText | None = Field(None, description="full-time, intern… (else from the title)")
    salary: SelectorText | None = Field(None, description="the pay as written")
    posted_at: SelectorText | None = Field(None, description="the posted date, absolute or relative")
    deadline: SelectorText | None = Field(None, description="the closing date")
    description: SelectorText | None = Field(None, description="the description: elements keep their markup")
    extra: dict[str, SelectorText] = Field(
        default_factory=dict, description="other texts to keep with the posting, by name"
    )

    @model_validator(mode="after")
    def _can_tell_postings_apart(self) -> Fields:
        if self.id is None and self.url is None:
            raise ValueError("give `id` or `url`: without either, postings cannot be told apart")
        return self


class Options(SourceOptions):
    start_urls: list[WebUrl] = Field(
        min_length=1, description="the list pages to start from; a /path is taken on `base_url`"
    )
    item: Annotated[str, AfterValidator(_checked_item_selector)] = Field(
        description="selects one element per posting; `fields` are relative to it"
    )
    fields: Fields = Field(description="where each part of a posting is within one item")
    next: SelectorText | None = Field(None, description="the next page's link (an href or an `a` element)")
    max_pages: int = Field(50, ge=1, le=1000, description="pages per start URL; stopping there is partial")
    allow_empty: bool = Field(
        False, description="a page where `item` matches nothing is an empty board, not a broken page"
    )
    company: str | None = Field(None, description="company name when `fields.company` finds none")
    default_currency: str | None = Field(
        None, pattern=r"^[A-Z]{3}$", description="currency of a bare `$` in salaries (ISO 4217, e.g. AUD)"
    )

    @field_validator("start_urls")
    @classmethod
    def _paths_need_base(cls, value: list[str], info: ValidationInfo) -> list[str]:
        paths_need_base(value, info)
        return value


SOURCE_TYPE = SourceType(
    name="html",
    description="any HTML list of openings, mapped with CSS or XPath selectors, with a next-page link",
    options=Options,
    spider="crawler.spiders.html:HtmlSpider",
    example={
        "name": "hn-jobs",
        "type": "html",
        "start_urls": ["https://news.ycombinator.com/jobs"],
        "item": "tr.athing",
        "fields": {
            "id": "./@id",
            "title": ".titleline > a",
            "url": ".titleline > a::attr(href)",
            "posted_at": "./following-sibling::tr[1]//span[contains(@class, 'age')]/a/text()",
        },
        "next": "a.morelink::attr(href)",
        "max_pages": 5,
        "company": "Y Combinator startups",
    },
)
