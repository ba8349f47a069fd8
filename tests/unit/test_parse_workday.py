"""Workday parts that need no crawl: career-site addresses, options, ids, relative dates, facets, records."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from crawler.spider import Board
from crawler.spiders._details import DETAIL, GONE, MISSING
from crawler.spiders.workday import (
    CareerSite,
    Options,
    WorkdaySpider,
    career_site,
    facet_values,
    id_from_path,
    posted_on,
)
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from tests.fixtures.workday import wd_detail, wd_posting

NOW = datetime(2026, 8, 10, 15, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        (
            "https://acme.wd5.myworkdayjobs.com/en-US/External",
            CareerSite("https://acme.wd5.myworkdayjobs.com", "acme", "External", "/External"),
        ),
        (
            "acme.wd5.myworkdayjobs.com/External/",
            CareerSite("https://acme.wd5.myworkdayjobs.com", "acme", "External", "/External"),
        ),
        (
            "https://acme.wd5.myworkdayjobs.com/fr-FR/External/job/Paris/Analyste_R-1",
            CareerSite("https://acme.wd5.myworkdayjobs.com", "acme", "External", "/External"),
        ),
        (
            "https://acme.wd5.myworkdayjobs.com/wday/cxs/acme/External/jobs",
            CareerSite("https://acme.wd5.myworkdayjobs.com", "acme", "External", "/External"),
        ),
        (
            "https://wd3.myworkdaysite.com/en-US/recruiting/acme/Careers",
            CareerSite("https://wd3.myworkdaysite.com", "acme", "Careers", "/recruiting/acme/Careers"),
        ),
    ],
)
def test_career_site_addresses_in_every_form_users_paste(address: str, expected: CareerSite) -> None:
    assert career_site(address) == expected


def test_a_custom_domain_needs_its_tenant() -> None:
    with pytest.raises(ValueError, match="give `tenant` too"):
        career_site("https://careers.acme.example/External")
    assert career_site("https://careers.acme.example/External", tenant="acme").tenant == "acme"


def options_problems(entry: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": [{"name": "acme", "type": "workday", **entry}]}))
    return list(caught.value.problems)


def test_options_name_the_keys_that_are_missing_or_wrong() -> None:
    assert options_problems({}) == [
        "sources[0]: give `url` (the career site's address) or all of `host`, `tenant` and `site`"
    ]
    assert options_problems({"url": "https://acme.wd5.myworkdayjobs.com/x", "max_details": -1})[0].startswith(
        "sources[0].max_details:"
    )
    assert options_problems({"url": "https://acme.wd5.myworkdayjobs.com/x", "limit": 50}) == [
        "sources[0].limit: extra inputs are not permitted"
    ]
    split = {"host": "acme.wd1.myworkdayjobs.com", "tenant": "acme", "site": "Jobs"}
    (source,) = parse_config(
        json.dumps({"sources": [{"name": "acme", "type": "workday", **split}]})
    ).resolved_sources()
    assert isinstance(source.options, Options)
    assert (
        source.options.career_site().posting_url("/job/X_1")
        == "https://acme.wd1.myworkdayjobs.com/Jobs/job/X_1"
    )


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/job/Hobart-TAS/Quality-Specialist---Sanitation_JR-7309", "JR-7309"),
        ("/job/Bega/Operator_JR-7309-1", "JR-7309-1"),  # a re-post is its own posting
        ("/job/Remote/Data_Engineer_II_R10238386", "R10238386"),
        ("/job/Remote/NoSuffix", "NoSuffix"),
    ],
)
def test_the_id_is_the_requisition_suffix_of_external_path(path: str, expected: str) -> None:
    assert id_from_path(path) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Posted Today", datetime(2026, 8, 10, tzinfo=UTC)),
        ("Posted Yesterday", datetime(2026, 8, 9, tzinfo=UTC)),
        ("Posted 3 Days Ago", datetime(2026, 8, 7, tzinfo=UTC)),
        ("Posted 30+ Days Ago", None),  # at least a month: no date is better than a wrong one
        (None, None),
        ("", None),
    ],
)
def test_posted_on_is_a_day_or_nothing(text: str | None, expected: datetime | None) -> None:
    assert posted_on(text, NOW) == expected


def test_facet_values_are_found_in_nested_groups() -> None:
    facets = [
        {"facetParameter": "timeType", "values": [{"descriptor": "Full time", "id": "ft", "count": 16}]},
        {
            "facetParameter": "locationMainGroup",
            "values": [
                {
                    "facetParameter": "locations",
                    "values": [
                        {"descriptor": "Bega", "id": "b1", "count": 5},
                        {"descriptor": "Hobart", "id": "h1"},
                    ],
                }
            ],
        },
    ]
    assert facet_values(facets, "locations") == [("b1", "Bega", 5), ("h1", "Hobart", 0)]
    assert facet_values(facets, "timeType") == [("ft", "Full time", 16)]
    assert facet_values(facets, "jobFamilyGroup") is None
    assert facet_values(None, "locations") is None


def board() -> Board[Any]:
    entry = {
        "name": "bilby",
        "type": "workday",
        "url": "https://bilby.wd3.myworkdayjobs.com/en-US/Bilby_Careers",
    }
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def test_a_record_normalises_the_same_without_its_details_except_for_what_they_add() -> None:
    listed = wd_posting("JR-1", "Cheesemaker", "Bega", time_type="Full time", posted_on="Posted 30+ Days Ago")
    spider = WorkdaySpider()
    bare = spider.to_posting({**listed, MISSING: True}, board())
    full = spider.to_posting({**listed, DETAIL: wd_detail(listed, end_date="2026-09-01")}, board())
    gone = spider.to_posting({**listed, GONE: 410}, board())
    assert bare.external_id == full.external_id == gone.external_id == "JR-1"
    assert (
        bare.url == full.url == "https://bilby.wd3.myworkdayjobs.com/Bilby_Careers/job/Bega/Cheesemaker_JR-1"
    )
    assert (bare.posted_at, bare.description_text, bare.extra["details_missing"]) == (None, "", True)
    assert full.posted_at == datetime(2026, 8, 4, tzinfo=UTC) and full.deadline == datetime(
        2026, 9, 1, tzinfo=UTC
    )
    assert full.locations[0].country == "AU" and full.employment_type == "full_time"
    assert gone.closed and not full.closed and not bare.closed
