"""GradConnection parts that need no crawl: option checks, the first request, one campaign's fields."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from crawler.spider import Board
from crawler.spiders.gradconnection import GradConnectionSpider
from rolewatch.config import ConfigError
from rolewatch.domain import Salary
from rolewatch.resolve import parse_config
from tests.fixtures.gradconnection import gc_campaign


def board(**keys: Any) -> Board[Any]:
    entry = {"name": "gc", "type": "gradconnection", **keys}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def test_the_first_request_goes_to_the_country_site() -> None:
    (request,) = GradConnectionSpider().start_requests_for(
        board(country="nz", job_type="graduate-jobs", query="civil engineering")
    )
    parts = urlsplit(request.url)
    assert (parts.netloc, parts.path) == ("nz.gradconnection.com", "/api/campaignsearch/")
    assert parse_qsl(parts.query) == [
        ("job_type", "graduate-jobs"),
        ("query", "civil engineering"),
        ("limit", "100"),
        ("offset", "0"),
    ]


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"location": "perth"}, "sources[0].location: use the site's form"),
        ({"country": "AUS"}, "sources[0].country: string should match pattern"),
        ({"job_type": "Graduate Jobs"}, "sources[0].job_type: string should match pattern"),
        ({"max_pages": 0}, "sources[0].max_pages: input should be greater than or equal to 1"),
    ],
)
def test_options_are_checked_with_their_path(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": [{"name": "g", "type": "gradconnection", **keys}]}))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(
    ("salary", "expected"),
    [
        ("AUD 78,000 - 82,000 / Year", Salary(78000, 82000, "AUD", "year", "AUD 78,000 - 82,000 / Year")),
        ("$32 - $36 / Hour", Salary(32, 36, "AUD", "hour", "$32 - $36 / Hour")),
        ({"min_salary": "65000", "max_salary": "70000"}, Salary(65000, 70000, "AUD", None, None)),
        ({"details": "Competitive"}, None),
        ("", None),
        (None, None),
    ],
)
def test_salary_text_and_objects(salary: Any, expected: Salary | None) -> None:
    posting = GradConnectionSpider().to_posting({**gc_campaign(1, "Analyst", salary=salary)}, board())
    assert posting.salary == expected


def test_a_campaign_without_organisation_or_interval_still_normalises() -> None:
    campaign = gc_campaign(2, "Graduate Analyst", job_type=None, interval=None, work_rights=[], locations=())
    posting = GradConnectionSpider().to_posting(campaign, board(job_type="graduate-jobs"))
    assert (posting.url, posting.company, posting.employment_type) == (None, None, "graduate")
    assert (posting.posted_at, posting.deadline, posting.closed, posting.work_rights) == (
        None,
        None,
        False,
        None,
    )
