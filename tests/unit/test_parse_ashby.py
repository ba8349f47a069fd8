"""Ashby compensation tiers as one salary: same currency and interval merged, amounts as offered."""

from __future__ import annotations

from crawler.spiders.ashby import salary_of
from rolewatch.domain import Salary
from tests.fixtures.ashby import NO_COMPENSATION, compensation, equity_component, salary_component


def test_tiers_in_one_currency_become_one_range_and_equity_is_not_pay() -> None:
    offered = compensation(
        [
            [salary_component(120_000, 140_000, "USD"), equity_component("USD")],
            [salary_component(150_000, 175_000, "USD")],
        ],
        summary="$120K – $175K • Offers Equity",
        summarise=False,  # no summaryComponents: read every tier
    )
    assert salary_of(offered) == Salary(120_000, 175_000, "USD", "year", "$120K – $175K")


def test_a_second_currency_is_left_out_and_intervals_are_never_annualised() -> None:
    offered = compensation(
        [[salary_component(30, 35, "GBP", "1 HOUR")], [salary_component(60_000, 70_000, "EUR", "1 YEAR")]],
        summary="£30 – £35 per hour",
        summarise=False,
    )
    assert salary_of(offered) == Salary(30, 35, "GBP", "hour", "£30 – £35 per hour")


def test_no_tiers_fall_back_to_the_summary_text_or_nothing() -> None:
    assert salary_of(NO_COMPENSATION) is None
    assert salary_of({**NO_COMPENSATION, "scrapeableCompensationSalarySummary": "€50K – €60K"}) == Salary(
        50_000, 60_000, "EUR", "year", "€50K – €60K"
    )
    assert salary_of({}) is None
