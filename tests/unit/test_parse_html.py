"""The `html` type without a crawl: selector errors by path, what a selector yields, paging, records."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse

from crawler.spider import Board, ListingError, ListingTruncated
from crawler.spiders.html import HtmlSpider, is_xpath
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from tests.fixtures.html import careers_page, opening

PAGE = "https://numbat.example/careers"


def entry(**keys: Any) -> dict[str, Any]:
    return {"name": "n", "type": "html", "start_urls": [PAGE], "item": "li.opening",
            "fields": {"id": "./@data-job-id", "title": "a.title", "url": "a.title::attr(href)"},
            "next": "a.next::attr(href)", **keys}  # fmt: skip


def board(**keys: Any) -> Board[Any]:
    (source,) = parse_config(json.dumps({"sources": [entry(**keys)]})).resolved_sources()
    return Board(source.name, source.options, source)


def problems(*entries: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": list(entries)}))
    return caught.value.problems


def page(body: bytes, url: str = PAGE, **meta: Any) -> HtmlResponse:
    request = Request(url, meta=meta)
    return HtmlResponse(url, body=body, request=request, headers={"Content-Type": "text/html"})


def test_a_bad_selector_is_a_configuration_error_named_by_its_path() -> None:
    good = {"name": "a", "type": "greenhouse", "board": "a"}
    bad = {**entry(), "fields": {"title": "a.t[", "url": "//a[@href", "extra": {"x": "./a[no()]"}}}
    assert problems(good, bad) == [
        "sources[1].fields.title: not a valid CSS selector (Expected ident or '*', got <EOF at 4>): 'a.t['",
        "sources[1].fields.url: not a valid XPath (Invalid predicate in //a[@href): '//a[@href'",
        "sources[1].fields.extra.x: not a valid XPath (Unregistered function in ./a[no()]): './a[no()]'",
    ]


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"item": "li::text"}, "item: `item` must select elements, not text or attributes"),
        ({"item": "li:first-of-kind"}, "item: not a valid CSS selector (The pseudo-class :first-of-kind"),
        ({"next": "a.next::href"}, "next: not a valid CSS selector (The pseudo-element ::href is unknown)"),
        ({"fields": {"title": "h3"}}, "fields: give `id` or `url`: without either, postings cannot be"),
        ({"fields": {"url": "a::attr(href)"}}, "fields.title: field required"),
        ({"fields": {"title": "h3", "id": " "}}, "fields.id: empty selector"),
        ({"start_urls": []}, "start_urls: list should have at least 1 item"),
        ({"start_urls": ["careers.html"]}, "start_urls[0]: not an http(s) URL or a /path"),
        ({"start_urls": ["/careers"]}, "start_urls: a /path needs `base_url`, the host it is on"),
        ({"default_currency": "dollars"}, "default_currency: string should match pattern"),
        ({"max_pages": 0}, "max_pages: input should be greater than or equal to 1"),
        ({"follow": "a"}, "follow: extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_each_option_is_checked_with_its_path(keys: dict[str, Any], problem: str) -> None:
    found = problems(entry(**keys))
    assert any(p.startswith(f"sources[0].{problem}") for p in found), found


@pytest.mark.parametrize(
    ("selector", "xpath"),
    [("//li", True), ("(//li)[1]", True), ("./td[1]", True), ("../h2", True), ("@href", True),
     ("normalize-space(.//h3)", True), ("li.opening", False), ("a::attr(href)", False),
     ("*::text", False), ("h3 > a", False), ("[data-id]", False)],
)  # fmt: skip
def test_xpath_or_css_is_told_by_how_the_selector_starts(selector: str, xpath: bool) -> None:
    assert is_xpath(selector) is xpath


def test_records_hold_texts_links_and_the_identity() -> None:
    body = careers_page(
        [
            opening(7, "Data <em>Scientist</em> Intern", places=("Sydney, NSW", "Remote")),
            opening(None, "Data&nbsp;Analyst", href="../jobs/analyst?utm_source=x#apply"),
        ],
        next_href="/careers?page=2",
    )
    fields = {"id": "./@data-job-id", "title": "a.title::text", "url": "a.title",
              "locations": ".where", "description": ".summary p::text", "salary": "p.pay"}  # fmt: skip
    spider, numbat = HtmlSpider(), board(fields=fields)
    *records, follow = spider.parse_listing(page(body), numbat)

    first, second = records
    assert first["id"] == "7" and first["url"] == "https://numbat.example/careers/jobs/7"
    assert first["title"] == "Data Intern", "`::text` is the element's own text nodes, joined"
    assert first["locations"] == ["Sydney, NSW", "Remote"] and first["salary"] == "$30 - $35 an hour"
    assert first["description_text"] == "We turn bakery data into & fewer leftovers."
    assert second["id"] == second["url"] == "https://numbat.example/jobs/analyst", "no id: the URL"
    assert second["title"] == "Data Analyst"
    assert isinstance(follow, Request) and follow.url == "https://numbat.example/careers?page=2"

    posting = spider.to_posting(first, numbat)
    assert posting.description_html == "<p>We turn bakery data into &amp; fewer leftovers.</p>"


def test_zero_matches_paging_ends_and_the_page_cap() -> None:
    spider = HtmlSpider()
    empty = careers_page([], empty_note=True)
    with pytest.raises(ListingError, match=r"`item` \('li.opening'\) matched nothing on this page"):
        list(spider.parse_listing(page(empty), board()))
    with pytest.raises(ListingError, match="matched nothing on page 3"):
        list(spider.parse_listing(page(empty, html_page=3), board()))
    assert list(spider.parse_listing(page(empty), board(allow_empty=True))) == []

    last = careers_page([opening(1, "Analyst")], next_href=f"{PAGE}#")
    assert len(list(spider.parse_listing(page(last), board()))) == 1, "a dead `#` next link is the end"
    looped = careers_page([opening(1, "Analyst")], next_href="/careers?page=1")
    visited = (f"{PAGE}?page=1",)
    outputs = list(spider.parse_listing(page(looped, f"{PAGE}?page=2", html_visited=visited), board()))
    assert len(outputs) == 1, "a next link back to a page already read is the end"
    more = careers_page([opening(1, "Analyst")], next_href="/careers?page=3")
    with pytest.raises(ListingTruncated, match="stopped after max_pages=2"):
        list(spider.parse_listing(page(more, f"{PAGE}?page=2", html_page=2), board(max_pages=2)))


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (
            "<html><body><noscript>You need to enable JavaScript to run this app.</noscript>"
            "<div id='root'></div><script src='/main.js'></script></body></html>",
            "its <noscript> says 'You need to enable JavaScript",
        ),
        (
            "<html><body><div id='__next'></div><footer>" + "Numbat Robotics. " * 20 + "</footer>"
            "<script src='/_next/app.js'></script></body></html>",
            "an empty application root, #__next",
        ),
        ("<html><body><h1>Careers</h1><script>load()</script></body></html>", "beside 1 scripts"),
    ],
)
def test_an_item_matching_nothing_on_a_scripted_page_says_it_needs_javascript(body: str, why: str) -> None:
    with pytest.raises(ListingError, match="appears to need JavaScript") as caught:
        list(HtmlSpider().parse_listing(page(body.encode()), board()))
    assert why in str(caught.value)
    assert "runs no scripts" in str(caught.value)
