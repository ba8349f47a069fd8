"""The `json` type without a crawl: configuration errors by path, requests, records and their mapping."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import TextResponse

from crawler.normalize.descriptions import describe
from crawler.spider import Board, ListingError, PostingError
from crawler.spiders._options import rehost
from crawler.spiders.json import JsonSpider, truthy
from rolewatch.config import ConfigError
from rolewatch.domain import Salary
from rolewatch.resolve import parse_config
from tests.fixtures.json import QUOKKA_FIELDS, quokka_job, quokka_page

API = "https://quokka.example/api/jobs"


def entry(**keys: Any) -> dict[str, Any]:
    return {"name": "q", "type": "json", "url": API, "items": "data.jobs",
            "fields": {"id": "id", "title": "name"}, **keys}  # fmt: skip


def board(**keys: Any) -> Board[Any]:
    (source,) = parse_config(json.dumps({"sources": [entry(**keys)]})).resolved_sources()
    return Board(source.name, source.options, source)


def problems(*entries: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": list(entries)}))
    return caught.value.problems


def response(payload: Any, request: Request) -> TextResponse:
    body = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    return TextResponse(request.url, body=body, headers=headers, request=request, encoding="utf-8")


def test_a_bad_expression_is_a_configuration_error_named_by_its_path() -> None:
    good = [{"name": "a", "type": "greenhouse", "board": "a"}, {"name": "b", "type": "lever", "site": "b"}]
    bad = {**entry(), "name": "c", "fields": {"id": "id", "title": "name[0"}}
    assert problems(*good, bad) == [
        "sources[2].fields.title: not a JMESPath expression ('name[0' ends too soon)"
    ]


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"items": "data..jobs"}, "items: not a JMESPath expression (unexpected '.' at position 5"),
        ({"items": ""}, "items: empty JMESPath expression"),
        ({"closed_when": "state = 'x'"}, "closed_when: not a JMESPath expression"),
        ({"fields": {"id": "id", "title": "upper(name)"}}, "fields.title: unknown JMESPath function upper()"),
        ({"fields": {"id": "id", "title": "join(name)"}}, "fields.title: join() takes 2 argument(s), got 1"),
        ({"fields": {"id": "id", "title": "t", "salary": "pay.)"}}, "fields.salary: not a JMESPath"),
        ({"fields": {"id": "id", "title": "t", "salary": {"min": "a[", "text": "b"}}},
         "fields.salary.min: not a JMESPath"),
        ({"fields": {"id": "id", "title": "t", "salary": {"currency": "c"}}},
         "fields.salary: give `text`, or `min` and/or `max`"),
        ({"fields": {"id": "id", "title": "t", "extra": {"team": "`x"}}},
         "fields.extra.team: not a JMESPath expression (Unclosed ` delimiter"),
        ({"fields": {"title": "t"}}, "fields.id: field required"),
        ({"fields": {"id": "id", "title": "t", "salry": "s"}}, "fields.salry: extra inputs"),
        ({"paging": {"type": "page", "total": "meta..total"}}, "paging.total: not a JMESPath"),
        ({"paging": {"type": "next"}}, "paging: `type: next` paging needs `next`"),
        ({"paging": {"type": "page", "limit": 5}}, "paging: limit cannot be used with `type: page`"),
        ({"paging": {"type": "offset", "limit_param": "n"}}, "paging: `limit_param` needs `limit`"),
        ({"paging": {"type": "cursor"}}, "paging.type: input should be 'page', 'offset' or 'next'"),
        ({"paging": {"type": "offset", "in": "body"}}, "paging: `in: body` paging needs `method: POST`"),
        ({"body": {"q": "data"}}, "body: a request body needs `method: POST`"),
        ({"method": "PUT"}, "method: input should be 'GET' or 'POST'"),
        ({"url": "file:///etc/passwd"}, "url: not an http(s) URL or a /path"),
        ({"url": "/api/jobs"}, "url: a /path needs `base_url`, the host it is on"),
        ({"max_pages": 0}, "max_pages: input should be greater than or equal to 1"),
    ],
)  # fmt: skip
def test_each_option_is_checked_with_its_path(keys: dict[str, Any], problem: str) -> None:
    found = problems(entry(**keys))
    assert any(p.startswith(f"sources[0].{problem}") for p in found), found


def test_the_full_quokka_mapping_and_lower_case_post_are_valid() -> None:
    options = board(fields=QUOKKA_FIELDS, method="post", body={"q": 1}).options
    assert options.method == "POST" and options.fields.salary.period == "pay.unit"
    shorthand = board(fields={"id": "id", "title": "t", "salary": "pay.note"}).options.fields.salary
    assert shorthand.text == "pay.note" and shorthand.min is None


def test_requests_carry_method_headers_body_and_paging_parameters() -> None:
    spider = JsonSpider()
    post = board(
        url=f"{API}?lang=en",
        method="POST",
        headers={"X-Portal": "careers", "Accept": "application/vnd.quokka+json"},
        body={"filters": {"q": "data"}},
        paging={
            "type": "offset",
            "param": "page.from",
            "limit_param": "page.size",
            "limit": 50,
            "in": "body",
        },
        base_url="http://127.0.0.1:9",
    )
    (first,) = spider.start_requests_for(post)
    assert (first.method, first.url) == ("POST", "http://127.0.0.1:9/api/jobs?lang=en")
    assert json.loads(first.body) == {"filters": {"q": "data"}, "page": {"from": 0, "size": 50}}
    assert first.headers["Accept"] == b"application/vnd.quokka+json"
    assert first.headers["Content-Type"] == b"application/json"
    assert first.headers["X-Portal"] == b"careers"

    paged = board(paging={"type": "page", "start": 0, "size_param": "per_page", "size": 2})
    (first,) = spider.start_requests_for(paged)
    assert first.method == "GET" and first.url == f"{API}?page=0&per_page=2"
    two = quokka_page([quokka_job(1, "A"), quokka_job(2, "B")])
    outputs = list(spider.parse_listing(response(two, first), paged))
    records, (follow,) = outputs[:2], outputs[2:]
    assert [record["id"] for record in records] == ["1", "2"]
    assert isinstance(follow, Request) and follow.url == f"{API}?page=1&per_page=2"
    short = list(spider.parse_listing(response(quokka_page([quokka_job(3, "C")]), follow), paged))
    assert len(short) == 1, "a page shorter than `size` is the last"


def test_items_at_the_top_level_and_what_is_not_a_list() -> None:
    spider = JsonSpider()
    top = board(items="@")
    (request,) = spider.start_requests_for(top)
    assert [r["id"] for r in spider.parse_listing(response([{"id": 7, "name": "A"}], request), top)] == ["7"]
    with pytest.raises(ListingError, match=r"`items` \('@'\) is not a list here \(got dict"):
        list(spider.parse_listing(response({"jobs": []}, request), top))
    typed = board(items="length(data)")
    with pytest.raises(ListingError, match=r"`items` \('length\(data\)'\) failed on this response"):
        list(spider.parse_listing(response({"data": 5}, request), typed))


def test_a_record_is_mapped_with_literals_closures_and_text_salaries() -> None:
    spider = JsonSpider()
    fields = {"id": "id", "title": "name", "company": "'Koala Co'", "salary": "pay.note",
              "employment_type": "`\"Internship\"`", "locations": "offices[].city"}  # fmt: skip
    mapped = board(fields=fields, closed_when="open_slots == `0` || state == 'filled'")
    raw = quokka_job(5, "Analyst", ["Perth WA"], pay={"note": "$60,000 - $70,000 per year"}, open_slots=0)
    posting = spider.to_posting({"id": "5", "item": raw}, mapped)
    assert posting.company == "Koala Co" and posting.employment_type == "intern"
    assert posting.salary == Salary(60000, 70000, "USD", "year", "$60,000 - $70,000 per year")
    assert posting.closed and posting.locations[0].country == "AU"
    still_open = spider.to_posting({"id": "5", "item": {**raw, "open_slots": 3}}, mapped)
    assert not still_open.closed

    failing = board(fields={"id": "id", "title": "name", "department": "length(team_size)"})
    with pytest.raises(PostingError, match=r"fields.department \('length\(team_size\)'\) failed"):
        spider.to_posting({"id": "5", "item": {"name": "A", "team_size": 4}}, failing)
    with pytest.raises(PostingError, match="found no title"):
        spider.to_posting({"id": "5", "item": {"name": ["", None]}}, board())


def test_jmespath_truthiness_and_descriptions() -> None:
    assert [truthy(v) for v in (0, "x", [0], {"a": 1}, True)] == [True] * 5
    assert [truthy(v) for v in (None, False, "", [], {})] == [False] * 5
    assert describe(None) == ("", "")
    assert describe(["<p>One</p>", "<p>Two</p>"])[1] == "One\n\nTwo"
    assert describe("5 < 6 & 7 > 2")[0] == "<p>5 &lt; 6 &amp; 7 &gt; 2</p>"
    assert rehost("https://a.example/api/jobs?x=1", "http://127.0.0.1:8/mirror/") == (
        "http://127.0.0.1:8/mirror/api/jobs?x=1"
    )
    assert rehost("https://a.example/api", None) == "https://a.example/api"


def test_next_links_are_the_real_services_and_stay_on_the_mirror() -> None:
    spider = JsonSpider()
    mirrored = board(base_url="http://127.0.0.1:9/mirror", paging={"type": "next", "next": "links.next"})
    (first,) = spider.start_requests_for(mirrored)
    assert first.url == "http://127.0.0.1:9/mirror/api/jobs"
    relative = quokka_page([quokka_job(1, "A")], next_link="jobs?page=2")
    *_, second = spider.parse_listing(response(relative, first), mirrored)
    assert isinstance(second, Request) and second.url == "http://127.0.0.1:9/mirror/api/jobs?page=2"
    elsewhere = quokka_page([quokka_job(2, "B")], next_link="https://cdn.quokka.example/p3")
    *_, third = spider.parse_listing(response(elsewhere, second), mirrored)
    assert isinstance(third, Request) and third.url == "https://cdn.quokka.example/p3"
    last = quokka_page([quokka_job(3, "C")], next_link=None)
    assert len(list(spider.parse_listing(response(last, third), mirrored))) == 1
    on_a_path = board(url="/api/jobs", base_url="http://127.0.0.1:9")
    (request,) = spider.start_requests_for(on_a_path)
    assert request.url == "http://127.0.0.1:9/api/jobs"
    posting = spider.to_posting(
        {"id": "1", "item": {"name": "A", "link": "/jobs/1"}},
        board(url="/api/jobs", base_url="http://127.0.0.1:9", fields=QUOKKA_FIELDS),
    )
    assert posting.url == "http://127.0.0.1:9/jobs/1"
