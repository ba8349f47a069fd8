"""Spider parts that need no crawl: one record to a Posting, the JSON shape checks, the error wording."""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scrapy import Request
from scrapy.exceptions import DownloadCancelledError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from crawler.middlewares import META_GAVE_UP
from crawler.registry import source_types
from crawler.spider import (
    Board,
    ListingError,
    PostingError,
    _Ledger,
    describe_failure,
    json_array,
    json_of,
    list_at,
    raw_digest,
)
from crawler.spiders.greenhouse import GreenhouseSpider
from crawler.spiders.lever import LeverSpider, description_html
from crawler.spiders.simplify import SimplifySpider
from rolewatch.config import ConfigError
from rolewatch.domain import CrawlResult, Posting
from rolewatch.resolve import parse_config
from tests.fixtures.boards import greenhouse_job, lever_posting, simplify_listing

URL = "http://127.0.0.1:8000/v1/boards/koala/jobs?content=true"


def board(entry: dict[str, Any]) -> Board[Any]:
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def greenhouse(job: dict[str, Any]) -> Posting:
    return GreenhouseSpider().to_posting(
        job, board({"name": "koala", "type": "greenhouse", "board": "koala"})
    )


def test_a_bulk_bumped_updated_at_does_not_change_the_fingerprint() -> None:
    before = greenhouse(greenhouse_job(11, "Data Scientist Intern", updated_at="2026-07-27T11:17:30-04:00"))
    after = greenhouse(greenhouse_job(11, "Data Scientist Intern", updated_at="2026-08-30T09:00:00-04:00"))
    assert before.fingerprint == after.fingerprint
    assert before.extra["updated_at"] != after.extra["updated_at"]
    moved = greenhouse(greenhouse_job(11, "Data Scientist Intern", location="Melbourne, VIC"))
    assert moved.fingerprint != before.fingerprint, "a real change does change it"


def test_greenhouse_falls_back_to_the_board_token_for_the_company() -> None:
    posting = greenhouse(greenhouse_job(12, "Analyst", company_name="  ", content=None, metadata=None))
    assert posting.company == "koala"
    assert (posting.description_html, posting.description_text, posting.salary) == ("", "", None)
    named = GreenhouseSpider().to_posting(
        greenhouse_job(12, "Analyst"),
        board({"name": "k", "type": "greenhouse", "board": "koala", "company": "Koala Pty Ltd"}),
    )
    assert named.company == "Koala Pty Ltd"


def test_lever_builds_one_description_and_reads_salary_text_without_a_range() -> None:
    lever = board({"name": "bilby", "type": "lever", "site": "bilby", "company": "Bilby Robotics"})
    raw = lever_posting(
        "id-1", "Data Engineer", commitment="Full-time", workplace_type="unspecified", country=None
    )
    raw["additionalPlain"] = "The estimated salary range is $60,000 - $97,000/year."
    posting = LeverSpider().to_posting(raw, lever)
    assert posting.company == "Bilby Robotics" and posting.employment_type == "full_time"
    assert posting.workplace is None
    assert posting.salary is not None and (posting.salary.min, posting.salary.max) == (60000, 97000)
    without_description = {k: v for k, v in raw.items() if k != "description"}
    assert description_html(without_description) == description_html(raw).replace(
        raw["description"], raw["opening"] + raw["descriptionBody"]
    )


def test_simplify_closure_needs_an_explicit_false() -> None:
    listing = simplify_listing("z9", "TikTok", "Data Scientist Intern", ["Sydney"])
    del listing["active"]
    posting = SimplifySpider().to_posting(
        listing, board({"name": "s", "type": "simplify", "url": "http://x/l.json"})
    )
    assert not posting.closed and posting.employment_type == "intern"


def test_a_record_without_a_title_is_a_posting_error() -> None:
    with pytest.raises(PostingError, match="'title' is missing or blank"):
        greenhouse(greenhouse_job(13, "   "))


def response(body: bytes, content_type: str = "application/json") -> TextResponse:
    return TextResponse(URL, body=body, headers={"Content-Type": content_type}, request=Request(URL))


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (b"<html><body>Down for maintenance</body></html>", "text/html; charset=utf-8",
         "response is not JSON (text/html: a maintenance or error page?)"),
        (b"", "application/json", "response is not JSON (the body is empty)"),
        (b'{"jobs": [{"id": 1, "title": "Ana', "application/json", "truncated?)"),
    ],
)  # fmt: skip
def test_a_body_that_is_not_json_says_what_it_is(body: bytes, content_type: str, message: str) -> None:
    with pytest.raises(ListingError) as caught:
        json_of(response(body, content_type))
    assert str(caught.value).endswith(message)


def test_json_of_the_wrong_shape_says_what_came_instead() -> None:
    assert list_at({"jobs": [1, 2]}, "jobs") == [1, 2]
    with pytest.raises(ListingError, match=r'^JSON has no "jobs" list \(got an object: \{"error": "x"\}\)$'):
        list_at({"error": "x"}, "jobs")
    with pytest.raises(ListingError, match=r'got an object: \{"ok": false, "error": "Document not found"\}'):
        json_array({"ok": False, "error": "Document not found"})
    with pytest.raises(ListingError, match=r"got an array: \[0, 1, 2, .*\.\.\.\)$"):
        list_at(list(range(100)), "jobs")


def failed(exc: Exception, **meta: Any) -> tuple[Failure, Request]:
    return Failure(exc), Request(URL, meta=meta)  # type: ignore[no-untyped-call]


@pytest.mark.parametrize(
    ("exc", "meta", "message"),
    [
        (HttpError(Response(URL, status=500)), {"retry_times": 3}, "HTTP 500 after 3 retries"),
        (HttpError(Response(URL, status=404)), {}, "HTTP 404"),
        (HttpError(Response(URL, status=429)),
         {"retry_times": 1, META_GAVE_UP: "Retry-After 600s is over the 120s limit"},
         "HTTP 429 after 1 retry (Retry-After 600s is over the 120s limit)"),
        (DownloadTimeoutError("took longer than 30.0 seconds"), {"download_timeout": 30.0, "retry_times": 2},
         "timed out after 30s after 2 retries"),
        (DownloadCancelledError("Received 20971520 bytes which is larger than download max size (10485760)"),
         {"download_maxsize": 10 * 2**20}, "response larger than the 10 MiB limit"),
        (IgnoreRequest("Forbidden by robots.txt"), {}, "forbidden by robots.txt"),
        (RuntimeError("boom"), {}, "RuntimeError: boom"),
    ],
)  # fmt: skip
def test_failed_requests_read_like_a_person_wrote_them(
    exc: Exception, meta: dict[str, Any], message: str
) -> None:
    failure, request = failed(exc, **meta)
    assert describe_failure(failure, request) == f"GET {URL}: {message}"


def test_every_type_has_options_a_spider_and_an_example_that_validates() -> None:
    types = source_types()
    assert {"greenhouse", "lever", "simplify"} <= set(types)
    for kind in types.values():
        assert kind.spider.name == kind.name
        parse_config(json.dumps({"sources": [dict(kind.example)]}))


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"name": "a", "type": "greenhouse"}, "sources[0].board: field required"),
        ({"name": "a", "type": "lever", "site": "x", "page_size": 500},
         "sources[0].page_size: input should be"),
        ({"name": "a", "type": "simplify", "url": "http://x", "employment_type": "boss"},
         "sources[0].employment_type: input should be"),
        ({"name": "a", "type": "greenhouse", "board": "x", "site": "y"}, "sources[0].site: extra inputs"),
    ],
)  # fmt: skip
def test_type_options_are_validated_with_their_path(entry: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": [entry]}))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["id", "title", "updated_at", "é", ""]) | st.text(max_size=8), _JSON))
def test_the_raw_digest_is_the_digest_of_the_sorted_json(record: dict[str, Any]) -> None:
    """Stored digests are compared with the next crawl's, so their recipe must never drift."""
    kept = {key: value for key, value in record.items() if key != "updated_at"}
    text = json.dumps(kept, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    expected = hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()
    assert raw_digest(record, ("updated_at",)) == expected


def test_the_raw_digest_writes_other_values_as_text() -> None:
    record = {"id": 1, "posted": date(2026, 8, 5)}
    assert raw_digest(record) == raw_digest({"id": 1, "posted": "2026-08-05"})


def test_a_result_handed_over_is_not_kept_with_its_postings() -> None:
    received: list[CrawlResult] = []
    spider = GreenhouseSpider(emit=received.append)
    koala = board({"name": "koala", "type": "greenhouse", "board": "koala"})
    now = time.monotonic()
    ledger = _Ledger(koala, {}, started_at=datetime.now(UTC), started=now, deadline=now + 60)
    ledger.add(greenhouse(greenhouse_job(11, "Data Scientist Intern")))
    spider._finish(ledger)
    (result,) = received
    assert [p.external_id for p in result.postings] == ["11"]
    assert spider.results == [replace(result, postings=())] and not ledger.postings


def test_a_record_with_a_lone_surrogate_is_kept_with_a_replacement_character() -> None:
    """A JSON escape may name half a surrogate pair, which no UTF-8 text can hold: the posting is
    kept with U+FFFD in its place, and the records after it on the page are read as ever."""
    koala = board({"name": "koala", "type": "greenhouse", "board": "koala"})
    jobs = [greenhouse_job(n, f"Analyst {n}") for n in (1, 2, 3)]
    body = json.dumps({"jobs": jobs}).replace("Analyst 2", "Analyst \\ud800 2").encode()
    now = time.monotonic()
    ledger = _Ledger(koala, {}, started_at=datetime.now(UTC), started=now, deadline=now + 60)
    response = TextResponse(URL, body=body, encoding="utf-8", request=Request(URL))
    GreenhouseSpider()._read(response, ledger)
    assert sorted(ledger.postings) == ["1", "2", "3"] and ledger.errors == []
    assert ledger.postings["2"].title == "Analyst \ufffd 2"
    assert ledger.postings["2"].raw_digest != ledger.postings["1"].raw_digest
