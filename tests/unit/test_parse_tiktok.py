"""TikTok parts that need no crawl: option checks, the request body, dates from ids, one record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.spider import Board
from crawler.spiders.tiktok import TikTokSpider, description_html, posted_at_from_id
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from tests.fixtures.tiktok import SAN_JOSE, snowflake, tiktok_post


def board(**keys: Any) -> Board[Any]:
    entry = {"name": "tt", "type": "tiktok", **keys}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        (
            {"recruitment": ["interns"]},
            "sources[0].recruitment: 'interns' is not intern, new-grad",
        ),
        ({"locations": ["Sydney"]}, "sources[0].locations: 'Sydney' is not a location code"),
        ({"max_postings": 0}, "sources[0].max_postings: input should be greater than or equal to 1"),
        ({"page_size": 101}, "sources[0].page_size: input should be less than or equal to 100"),
    ],
)
def test_options_are_checked_with_their_path(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": [{"name": "tt", "type": "tiktok", **keys}]}))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_recruitment_names_ask_for_early_careers_and_ids_pass_through() -> None:
    options = board(recruitment="new-grad").options
    assert options.recruitment_ids() == ["2"] and options.wanted_recruit_types() == frozenset({"201"})
    both = board(recruitment=["intern", "new-grad"]).options
    assert both.recruitment_ids() == ["2"] and both.wanted_recruit_types() == frozenset({"201", "202"})
    raw = board(recruitment=[202, "intern"]).options
    assert raw.recruitment_ids() == ["202", "2"] and raw.wanted_recruit_types() is None


def test_the_first_request_is_a_post_with_the_portal_headers() -> None:
    (request,) = TikTokSpider().start_requests_for(board(keyword="data scientist", max_postings=30))
    assert request.method == "POST"
    assert request.url == "https://api.lifeattiktok.com/api/v1/public/supplier/search/job/posts"
    assert request.headers[b"website-path"] == b"tiktok"
    assert json.loads(request.body)["limit"] == 30, "never ask for more than max_postings"


def test_posted_at_comes_from_the_ids_top_32_bits_only_when_plausible() -> None:
    # An id from a recorded TikTok answer (research sample): 2026-09-18 03:37:20 UTC.
    assert posted_at_from_id("7686714309884578101") == datetime(2026, 9, 18, 3, 37, 20, tzinfo=UTC)
    assert posted_at_from_id(snowflake(datetime(2024, 2, 29, 12, tzinfo=UTC), 7)) == datetime(
        2024, 2, 29, 12, tzinfo=UTC
    )
    for implausible in ("12345", "A248054", "", "-5", str(2**62 + 1), "1" * 40):
        assert posted_at_from_id(implausible) is None, implausible


def test_a_record_without_salary_or_dates_still_normalises() -> None:
    post = tiktok_post(
        "9",
        "Backend Engineer",
        SAN_JOSE,
        ("101", "Regular"),
        description="",
        requirement="",
        city_info=None,
        job_category=None,
    )
    posting = TikTokSpider().to_posting(post, board(company="TikTok US"))
    assert (posting.company, posting.employment_type, posting.locations) == ("TikTok US", "full_time", ())
    assert (posting.posted_at, posting.salary, posting.department, posting.description_html) == (
        None,
        None,
        None,
        "",
    )


def test_description_html_escapes_text_and_keeps_lines() -> None:
    html = description_html("Build <fast> tools\n- one\n- two", "")
    assert html == "<h3>Responsibilities</h3><p>Build &lt;fast&gt; tools<br>- one<br>- two</p>"
