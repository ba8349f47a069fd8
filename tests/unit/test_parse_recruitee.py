"""Recruitee parts that need no crawl: the request it sends, its options, statuses and salary shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from crawler.spider import Board
from crawler.spiders.recruitee import RecruiteeSpider
from rolewatch.config import ConfigError
from rolewatch.domain import Salary
from rolewatch.resolve import parse_config
from tests.fixtures.recruitee import recruitee_offer


def board(**options: Any) -> Board[Any]:
    entry = {"name": "quokka", "type": "recruitee", "company": "quokka", **options}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def test_the_request_goes_to_the_company_subdomain() -> None:
    (request,) = RecruiteeSpider().start_requests_for(board(company="Quokka"))
    assert request.url == "https://quokka.recruitee.com/api/offers/"
    assert request.method == "GET" and request.headers["Accept"] == b"application/json"
    (mirror,) = RecruiteeSpider().start_requests_for(board(base_url="https://careers.quokka.example/"))
    assert mirror.url == "https://careers.quokka.example/api/offers/"


def test_a_company_that_is_not_a_subdomain_is_refused_by_its_key() -> None:
    entry = {"name": "q", "type": "recruitee", "company": "quokka.recruitee.com/api"}
    with pytest.raises(ConfigError) as refused:
        parse_config(json.dumps({"sources": [entry]}))
    assert "sources[0].company" in str(refused.value)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("published", "open"), (None, "open"), ("closed", "closed"), ("Archived", "closed"),
     ("draft", "skipped"), ("internal", "skipped")],
)  # fmt: skip
def test_status_decides_open_closed_or_skipped(status: str | None, outcome: str) -> None:
    posting = RecruiteeSpider().to_posting(recruitee_offer(1, "Analyst", status=status), board())
    assert ("skipped" if posting is None else "closed" if posting.closed else "open") == outcome


@pytest.mark.parametrize(
    ("salary", "expected"),
    [
        (
            {"min": "4000", "max": "4500", "currency": "EUR", "period": "month"},
            Salary(4000, 4500, "EUR", "month"),
        ),
        (
            {"min": "55000", "max": None, "currency": "GBP", "period": "year"},
            Salary(55000, None, "GBP", "year"),
        ),
        ("AUD 78,000 - 82,000 / Year", Salary(78000, 82000, "AUD", "year", "AUD 78,000 - 82,000 / Year")),
        (None, None),
    ],
)
def test_salary_is_an_object_of_strings_or_text(salary: Any, expected: Salary | None) -> None:
    posting = RecruiteeSpider().to_posting(recruitee_offer(2, "Analyst", salary=salary), board())
    assert posting is not None and posting.salary == expected


def test_company_name_option_and_a_department_object() -> None:
    offer = recruitee_offer(3, "Analyst", department={"name": " Finance "}, company_name="")
    posting = RecruiteeSpider().to_posting(offer, board(company_name="Quokka Freight Pty Ltd"))
    assert posting is not None
    assert (posting.company, posting.department) == ("Quokka Freight Pty Ltd", "Finance")
    bare = RecruiteeSpider().to_posting(offer, board())
    assert bare is not None and bare.company == "quokka"
