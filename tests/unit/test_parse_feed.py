"""The feed type without a crawl: telling a feed from anything else, and each item field's shapes."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from scrapy.http import TextResponse

from crawler.spider import Board, ListingError, PostingError
from crawler.spiders.feed import FeedSpider, read_feed
from rolewatch.config import ConfigError
from rolewatch.domain import Location, Posting
from rolewatch.resolve import parse_config
from tests.fixtures.feed import atom_entry, atom_feed, json_feed, json_feed_item, rss_feed, rss_item

URL = "https://quoll.example/jobs.rss"


def board(**options: Any) -> Board[Any]:
    (source,) = parse_config(
        json.dumps({"sources": [{"name": "f", "type": "feed", "url": URL, **options}]})
    ).resolved_sources()
    return Board(source.name, source.options, source)


def response(body: bytes, content_type: str = "application/rss+xml") -> TextResponse:
    return TextResponse(url=URL, body=body, encoding="utf-8", headers={"Content-Type": content_type})


def items(body: bytes, content_type: str = "application/rss+xml", **options: Any) -> list[Posting]:
    spider, source = FeedSpider(), board(**options)
    return [spider.to_posting(record, source) for record in read_feed(response(body, content_type))]


def test_options_default_to_a_30_day_window_and_name_their_keys_when_wrong() -> None:
    assert board().options.max_age == timedelta(days=30)
    assert board(max_age=None).options.max_age is None
    assert board(location_field="job_city").options.location_field == ["job_city"]
    with pytest.raises(ConfigError) as error:
        parse_config(
            json.dumps({"sources": [{"name": "f", "type": "feed", "url": "ftp://x/f", "max_age": "soon"}]})
        )
    assert error.value.problems == [
        "sources[0].url: not an http(s) URL or a path: 'ftp://x/f'",
        "sources[0].max_age: not a duration: 'soon' (use a number and a unit: 90s, 15m, 2h, 1d)",
    ]


def test_the_type_declares_that_absence_from_the_feed_cannot_close() -> None:
    spider = FeedSpider()
    assert FeedSpider.closes_by_absence is False and FeedSpider.conditional is True
    assert spider.absence_max_age(board(max_age="7d")) == timedelta(days=7)


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"", "application/rss+xml", "response is not a feed (the body is empty)"),
        (
            b"<!DOCTYPE html><html><body>Moved</body></html>",
            "text/html",
            "response is not a feed (an HTML page)",
        ),
        (
            b'{"jobs": [1]}',
            "application/json",
            'response is not a feed (JSON without a jsonfeed.org version: {"jobs": [1]})',
        ),
        (b"{oops", "application/json", "response is not a feed (JSON that does not parse: "),
        (
            b'{"version": "https://jsonfeed.org/version/1.1", "items": {}}',
            "application/feed+json",
            'the JSON Feed has no "items" list',
        ),
        (b"plain words, no markup", "text/plain", "response is not a feed ("),
    ],
)
def test_a_body_that_is_not_a_feed_is_a_listing_error(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(ListingError) as error:
        read_feed(response(body, content_type))
    assert str(error.value).startswith(message)


def test_an_empty_feed_is_a_valid_empty_listing() -> None:
    assert read_feed(response(rss_feed([]))) == []
    assert read_feed(response(json.dumps(json_feed([])).encode(), "application/feed+json")) == []


def test_a_sloppy_feed_the_lenient_parser_reads_is_kept() -> None:
    body = rss_feed([rss_item("A-1", "Ecologist")]).replace(b"</channel>", b"&nbsp;</channel>")
    (posting,) = items(body)
    assert posting.title == "Ecologist"


def test_company_comes_from_the_option_the_author_or_a_title_prefix() -> None:
    feed = rss_feed(
        [
            rss_item("1", "Botanist", author="careers@quoll.example (Quoll Conservancy)"),
            rss_item("2", "Numbat Trust: Field Officer"),
            rss_item("3", "Botanist", author="careers@quoll.example"),
        ]
    )
    by_author, prefixed, bare = items(feed)
    assert by_author.company == "Quoll Conservancy" and prefixed.company is None and bare.company is None
    assert prefixed.title == "Numbat Trust: Field Officer"
    _, split, _ = items(feed, company_in_title=True)
    assert (split.company, split.title) == ("Numbat Trust", "Field Officer")
    assert {p.company for p in items(feed, company="Quoll Pty Ltd", company_in_title=True)} == {
        "Quoll Pty Ltd"
    }


def test_location_field_names_the_items_own_fields() -> None:
    feed = rss_feed(
        [rss_item("1", "Ranger", job={"city": "Launceston", "state": "TAS"}, plain={"region": "Oceania"})]
    )
    (default,) = items(feed)
    assert default.locations == (Location("Oceania"),)
    (chosen,) = items(feed, location_field=["job_city", "job_state"])
    assert [(loc.city, loc.region, loc.country) for loc in chosen.locations] == [
        ("Launceston", "TAS", "AU"),
        (None, "TAS", "AU"),
    ]


def test_employment_hints_prefer_the_type_field_over_category_tags() -> None:
    feed = rss_feed(
        [
            rss_item("1", "Ranger", categories=["Parks", "Part-time"]),
            rss_item("2", "Ranger", categories=["Internship"], plain={"type": "Temporary"}),
            rss_item("3", "Ranger", categories=["Parks"]),
        ]
    )
    assert [p.employment_type for p in items(feed)] == ["part_time", "temporary", None]


def test_identity_is_the_guid_else_the_canonical_link_and_an_item_with_neither_is_refused() -> None:
    feed = rss_feed(
        [
            rss_item(" G-1 ", "A"),
            rss_item(None, "B", link="https://quoll.example/j/2?utm_source=rss"),
            rss_item(None, "C"),
        ]
    )
    records = read_feed(response(feed))
    spider, source = FeedSpider(), board()
    assert [spider.record_id(record) for record in records] == ["G-1", "https://quoll.example/j/2", None]
    with pytest.raises(PostingError, match="no guid, id or link"):
        spider.to_posting(records[2], source)


def test_json_feed_1_0_author_text_content_and_an_item_without_a_title() -> None:
    feed = json_feed(
        [
            json_feed_item(
                "x1", "Picker", url="https://echidna.example/j/1", content_html=None, summary="Pick & pack."
            ),
            json_feed_item("x2", None, url="https://echidna.example/j/2"),
        ],
        author={"name": "Echidna Logistics"},
    )
    records = read_feed(response(json.dumps(feed).encode(), "application/json"))
    spider, source = FeedSpider(), board()
    picker = spider.to_posting(records[0], source)
    assert (picker.company, picker.description_html) == ("Echidna Logistics", "<p>Pick &amp; pack.</p>")
    with pytest.raises(PostingError, match="'title' is missing or blank"):
        spider.to_posting(records[1], source)


def test_atom_prefers_published_and_reads_text_content_as_paragraphs() -> None:
    entry = atom_entry(
        "urn:j:1",
        "Welder",
        href="https://platypus.example/j/1",
        published="2026-08-01T00:00:00Z",
        content_html="<p>x</p>",
    )
    text = entry.replace(
        '<content type="html">&lt;p&gt;x&lt;/p&gt;</content>',
        '<content type="text">Weld &amp; grind.</content>',
    )
    assert text != entry
    (posting,) = items(atom_feed([text]), "application/atom+xml")
    assert posting.posted_at is not None and posting.posted_at.isoformat() == "2026-08-01T00:00:00+00:00"
    assert posting.description_html == "<p>Weld &amp; grind.</p>"
