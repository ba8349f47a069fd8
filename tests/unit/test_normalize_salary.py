"""Pay ranges from free text and from structured salary fields, never annualised or converted."""

from __future__ import annotations

import math
import re
import time
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.normalize.salary import _first_digit, parse_salary_text, salary_from_range
from rolewatch.domain import Salary


def _fields(salary: Salary | None) -> tuple[float | None, float | None, str | None, str | None] | None:
    return None if salary is None else (salary.min, salary.max, salary.currency, salary.period)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("USD 50 - 60 / hour", (50, 60, "USD", "hour")),
        ("$120K–$150K", (120_000, 150_000, "USD", "year")),
        ("AUD 78,000 - 82,000 / Year", (78_000, 82_000, "AUD", "year")),
        ("$50-$50/hr", (50, 50, "USD", "hour")),
        ("$60,000 - $97,000/year", (60_000, 97_000, "USD", "year")),
        ("£30,000 per annum", (30_000, 30_000, "GBP", "year")),
        ("€45k-55k", (45_000, 55_000, "EUR", "year")),
        ("CA$90,000–CA$110,000", (90_000, 110_000, "CAD", "year")),
        ("A$35/hour", (35, 35, "AUD", "hour")),
        ("S$4,000 per month", (4_000, 4_000, "SGD", "month")),
        ("INR 12,00,000", (1_200_000, 1_200_000, "INR", None)),
        ("₹12,00,000 p.a.", (1_200_000, 1_200_000, "INR", "year")),
        ("$25 an hour", (25, 25, "USD", "hour")),
        ("$27.50 per hour", (27.5, 27.5, "USD", "hour")),
        ("$40/hr - $50/hr", (40, 50, "USD", "hour")),
        ("The pay is $45 to $55 an hour.", (45, 55, "USD", "hour")),
        ("between $80,000 and $100,000 per year", (80_000, 100_000, "USD", "year")),
        ("$120-150K", (120_000, 150_000, "USD", "year")),
        ("50,000 USD - 60,000 USD per year", (50_000, 60_000, "USD", "year")),
        ("45.000 € per year", (45_000, 45_000, "EUR", "year")),
        ("US$100,000", (100_000, 100_000, "USD", "year")),
        ("NZ$70,000 - NZ$80,000", (70_000, 80_000, "NZD", "year")),
        ("HK$30,000 per month", (30_000, 30_000, "HKD", "month")),
        ("¥300,000 per month", (300_000, 300_000, "JPY", "month")),
        ("RMB 20k/month", (20_000, 20_000, "CNY", "month")),
        ("CHF 120'000 annually", (120_000, 120_000, "CHF", "year")),
    ],
)
def test_parse_salary_text_reads_ranges_currencies_and_periods(
    text: str, expected: tuple[float, float, str, str | None]
) -> None:
    assert _fields(parse_salary_text(text)) == expected


@pytest.mark.parametrize(
    ("text", "period"),
    [
        ("$1,000 per week", "week"),
        ("$800 weekly", "week"),
        ("$500/wk", "week"),
        ("$300 daily", "day"),
        ("$300/day", "day"),
        ("$300 per day", "day"),
        ("$5,000/mo", "month"),
        ("$5,000 monthly", "month"),
        ("$90,000 annually", "year"),
        ("$90k/yr", "year"),
        ("$90,000 p.a.", "year"),
        ("$90,000 pa", "year"),
        ("$40 hourly", "hour"),
        ("$40/h", "hour"),
        ("$40 p.h.", "hour"),
        ("S$4,000 p.m.", "month"),
        ("Hourly rate: $45", "hour"),
        ("Annual base salary: $95,000", "year"),
    ],
)
def test_parse_salary_text_understands_period_vocabulary(text: str, period: str) -> None:
    salary = parse_salary_text(text)
    assert salary is not None and salary.period == period


@pytest.mark.parametrize(
    ("text", "default", "currency"),
    [
        ("$50,000", None, "USD"),
        ("$50,000", "AUD", "AUD"),
        ("$50,000", "cad", "CAD"),
        ("$50,000", "EUR", "USD"),  # a euro board quoting dollars still means dollars
        ("50 - 60 per hour", "AUD", "AUD"),
        ("50 - 60 per hour", None, None),
        ("A$50,000", "USD", "AUD"),  # an explicit marker beats the default
    ],
)
def test_parse_salary_text_resolves_the_dollar_sign_with_the_default_currency(
    text: str, default: str | None, currency: str | None
) -> None:
    salary = parse_salary_text(text, default_currency=default)
    assert salary is not None and salary.currency == currency


def test_parse_salary_text_records_the_matched_snippet() -> None:
    salary = parse_salary_text("Compensation: AUD 78,000 - 82,000 / Year plus super.")
    assert salary is not None and salary.text == "AUD 78,000 - 82,000 / Year"


def test_parse_salary_text_never_annualises() -> None:
    assert _fields(parse_salary_text("$40/hr")) == (40, 40, "USD", "hour")
    assert _fields(parse_salary_text("S$4,000 per month")) == (4_000, 4_000, "SGD", "month")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Up to $80,000 per year", (None, 80_000)),
        ("From $25/hr", (25, None)),
        ("Starting at $60,000 a year", (60_000, None)),
        ("$150,000+ per year", (150_000, None)),
        ("$150K–$120K", (120_000, 150_000)),  # reversed bounds are put in order
    ],
)
def test_parse_salary_text_reads_open_ended_and_reversed_ranges(
    text: str, expected: tuple[float | None, float | None]
) -> None:
    salary = parse_salary_text(text)
    assert salary is not None and (salary.min, salary.max) == expected


@pytest.mark.parametrize(
    "text",
    [
        None,
        "",
        "Competitive salary",
        "We offer a 401(k) with 4% match",
        "5+ years of experience required",
        "Graduate program starting 2026",
        "Founded in 2012, 300 employees",
        "Work 40 hours per week",
        "3 days a week in the office",
        "$10M Series A",
        "We raised $5 billion",
        "$500 learning budget",
        "$2,000 signing bonus",
        "PHP 8 experience",
        "Interviews at 3 pm",
        "Open 24/7",
        "<script>alert(1)</script>",
    ],
)
def test_parse_salary_text_ignores_numbers_that_are_not_pay(text: str | None) -> None:
    assert parse_salary_text(text) is None


def test_parse_salary_text_prefers_pay_with_a_period_over_a_stray_amount() -> None:
    text = "Includes a $500 equipment stipend and $1,000 bonus. Pay: $40 - $50/hr."
    assert _fields(parse_salary_text(text)) == (40, 50, "USD", "hour")


def test_parse_salary_text_picks_the_first_pay_range_in_a_description() -> None:
    text = "401(k). Base pay $120K–$150K plus a $10K signing bonus. 5+ years."
    assert _fields(parse_salary_text(text)) == (120_000, 150_000, "USD", "year")


def test_parse_salary_text_survives_a_megabyte_of_digits() -> None:
    started = time.perf_counter()
    assert parse_salary_text("1" * 1_000_000) is None
    parse_salary_text("$1," * 300_000)
    assert time.perf_counter() - started < 5


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_parse_salary_text_never_raises(text: str) -> None:
    salary = parse_salary_text(text)
    if salary is not None:
        assert salary.min is not None or salary.max is not None
        assert salary.period in (None, "hour", "day", "week", "month", "year")


_PAY_PIECES = st.sampled_from(
    ["$", "USD", "€", "A$", "50", "120,000", "12,00,000", "45.000", "k", "K", " - ", "–", " to ", "/hr",
     " per ", "year", " p.a.", "+", " ", "up to ", "(", ")", "1.5", "M"]
)  # fmt: skip


@settings(max_examples=500, deadline=None)
@given(st.lists(_PAY_PIECES, max_size=12).map("".join))
def test_parse_salary_text_keeps_ranges_ordered(text: str) -> None:
    salary = parse_salary_text(text)
    if salary is not None and salary.min is not None and salary.max is not None:
        assert salary.min <= salary.max
        assert salary.text and salary.text in text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ((50_000, 60_000, "USD", "per-year-salary"), (50_000, 60_000, "USD", "year")),
        ((4_000, 5_000, "AUD", "per-month-salary"), (4_000, 5_000, "AUD", "month")),
        ((30, 35, "usd", "per-hour-wage"), (30, 35, "USD", "hour")),
        ((300, 400, "GBP", "per-day-wage"), (300, 400, "GBP", "day")),
        ((1_000, 1_200, "EUR", "per-week-wage"), (1_000, 1_200, "EUR", "week")),
        ((5_000, 5_000, "USD", "one-time"), (5_000, 5_000, "USD", None)),
        (("50000.0", "60000.0", "AUD", "1 YEAR"), (50_000, 60_000, "AUD", "year")),
        ((40, 45, "USD", "1 HOUR"), (40, 45, "USD", "hour")),
        ((6_000, 7_000, "SGD", "1 MONTH"), (6_000, 7_000, "SGD", "month")),
        ((80_000, 90_000, "USD", "YEAR"), (80_000, 90_000, "USD", "year")),
        ((25, 30, "USD", "HOUR"), (25, 30, "USD", "hour")),
        ((25, 30, "USD", "hour"), (25, 30, "USD", "hour")),
        ((Decimal("1.5e5"), None, "USD", "year"), (150_000, None, "USD", "year")),
        (("$50,000", "$60,000", "USD", None), (50_000, 60_000, "USD", None)),
        ((60, 50, "USD", "HOUR"), (50, 60, "USD", "hour")),
        ((30, None, "USD", "HOUR"), (30, None, "USD", "hour")),
        ((None, 30, "USD", "HOUR"), (None, 30, "USD", "hour")),
        ((30, "n/a", "USD", "HOUR"), (30, None, "USD", "hour")),
        ((30, 40, None, None), (30, 40, None, None)),
        ((30, 40, "$", "HOUR"), (30, 40, "USD", "hour")),
    ],
)
def test_salary_from_range_maps_board_vocabularies(
    args: tuple[Any, Any, str | None, str | None], expected: tuple[Any, ...]
) -> None:
    assert _fields(salary_from_range(*args)) == expected


@pytest.mark.parametrize(
    ("minimum", "maximum"),
    [
        (None, None),
        ("", ""),
        ("competitive", None),
        (True, False),
        (math.nan, math.inf),
        (-5, None),
        ([], {}),
    ],
)
def test_salary_from_range_is_none_without_a_usable_bound(minimum: Any, maximum: Any) -> None:
    assert salary_from_range(minimum, maximum, "USD", "YEAR") is None


def test_salary_from_range_keeps_the_board_text() -> None:
    salary = salary_from_range(50_000, 60_000, "USD", "per-year-salary", "$50k - $60k")
    assert salary is not None and salary.text == "$50k - $60k"


@settings(max_examples=500)
@given(st.text(alphabet=st.sampled_from("ab 0123456789٣€$\n")) | st.text())
def test_the_first_digit_is_where_a_regex_scan_finds_it(text: str) -> None:
    found = re.search("[0-9]", text)
    assert _first_digit(text) == (found.start() if found else -1)


def test_an_amount_starts_at_an_ascii_digit() -> None:
    assert parse_salary_text("Pay: USD ٤٠ - ٦٠ / hour") is None
    assert parse_salary_text("Pay: USD 40 - ٦٠ / hour") == Salary(40, 60, "USD", "hour", "USD 40 - ٦٠ / hour")
