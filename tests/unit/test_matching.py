"""Subscription filters: each structured filter, the query, and the event types, against small postings."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from notifier.matching import SubscriptionBook, pays_at_least
from rolewatch.config import MinSalary, SalaryConversion
from rolewatch.domain import Event, EventType, Location, Posting, Salary, WorkRights
from rolewatch.resolve import parse_config

SYDNEY = Location("Sydney, NSW", city="Sydney", region="New South Wales", country="AU")
SAN_JOSE = Location("San Jose, CA", city="San Jose", region="California", country="US")
REMOTE_US = Location("Remote - US", country="US", remote=True)


def posting(**fields: Any) -> Posting:
    base: dict[str, Any] = {
        "source": "koala",
        "external_id": "1",
        "title": "Data Scientist Intern",
        "company": "Koala Analytics",
        "locations": (SYDNEY,),
        "employment_type": "intern",
    }
    return Posting(**(base | fields))


def event(kind: EventType = EventType.NEW, source: str = "koala") -> Event:
    return Event(
        kind, source, "1", "Data Scientist Intern", "Koala Analytics", None, datetime(2026, 11, 1, tzinfo=UTC)
    )


def book(**subscription: Any) -> SubscriptionBook:
    config = parse_config(yaml.safe_dump({"subscriptions": [{"name": "mine", **subscription}]}))
    return SubscriptionBook(config)


def wants(subscription: dict[str, Any], item: Posting, kind: EventType = EventType.NEW) -> bool:
    return book(**subscription).matching(event(kind), item) == ["mine"]


def test_an_empty_subscription_wants_every_new_and_reopened_role_only() -> None:
    assert wants({}, posting())
    assert wants({}, posting(), EventType.REOPENED)
    assert not wants({}, posting(), EventType.CHANGED)
    assert not wants({}, posting(), EventType.CLOSED)
    assert wants({"events": ["closed"]}, posting(), EventType.CLOSED)


@pytest.mark.parametrize(
    ("wanted", "location", "expected"),
    [
        ("Sydney", SYDNEY, True),
        ("sydney", SYDNEY, True),
        ("New South Wales", SYDNEY, True),
        ("AU", SYDNEY, True),
        ("Australia", SYDNEY, True),
        ("San Jose", SYDNEY, False),
        ("San Jose", SAN_JOSE, True),
        ("United States", SAN_JOSE, True),
        ("Remote", SAN_JOSE, False),
        ("Remote", REMOTE_US, True),
        ("US", REMOTE_US, True),
    ],
)
def test_locations_match_city_region_country_code_or_name_and_remote(
    wanted: str, location: Location, expected: bool
) -> None:
    assert wants({"locations": [wanted]}, posting(locations=(location,))) is expected


def test_remote_workplace_counts_as_remote_location() -> None:
    assert wants({"locations": ["Remote"]}, posting(locations=(), workplace="remote"))
    assert wants({"workplace": ["remote"]}, posting(locations=(REMOTE_US,)))
    assert not wants({"workplace": ["remote"]}, posting(workplace="onsite"))


def test_companies_employment_types_sources_and_sponsorship() -> None:
    assert wants({"companies": ["koala analytics"]}, posting())
    assert not wants({"companies": ["Bilby"]}, posting())
    assert not wants({"employment_types": ["graduate"]}, posting())
    assert wants({"employment_types": ["graduate", "intern"]}, posting())
    assert not wants({"sources": ["other"]}, posting())
    assert wants({"sponsorship": ["offered"]}, posting(work_rights=WorkRights(sponsorship="offered")))
    assert not wants({"sponsorship": ["offered"]}, posting(work_rights=WorkRights(sponsorship="not_offered")))
    assert not wants({"sponsorship": ["offered"]}, posting()), "unknown sponsorship never matches"


def test_min_salary_compares_only_the_same_currency_and_period() -> None:
    hourly = Salary(45, 55, "USD", "hour")
    floor = MinSalary(amount=50, currency="USD", per="hour")
    assert pays_at_least(hourly, floor, ())
    assert not pays_at_least(Salary(30, 40, "USD", "hour"), floor, ())
    assert not pays_at_least(Salary(100_000, 120_000, "USD", "year"), floor, ()), "never annualised silently"
    assert not pays_at_least(Salary(60, 70, "AUD", "hour"), floor, ())
    assert not pays_at_least(None, floor, ())


def test_min_salary_uses_an_explicit_conversion_rule() -> None:
    rule = SalaryConversion.model_validate(
        {
            "from": {"currency": "USD", "per": "year"},
            "to": {"currency": "USD", "per": "hour"},
            "factor": 1 / 2080,
        }
    )
    floor = MinSalary(amount=50, currency="USD", per="hour")
    assert pays_at_least(Salary(100_000, 120_000, "USD", "year"), floor, [rule])
    assert not pays_at_least(Salary(80_000, 90_000, "USD", "year"), floor, [rule])


def test_query_and_structured_filters_combine() -> None:
    subscription = {"query": 'title:(intern OR internship) AND "data scien*" NOT senior', "locations": ["AU"]}
    assert wants(subscription, posting())
    assert not wants(subscription, posting(title="Senior Data Scientist Intern"))
    assert not wants(subscription, posting(locations=(SAN_JOSE,)))


def test_matching_keeps_configuration_order_across_many_subscriptions() -> None:
    subscriptions = [
        {"name": "b-any"},
        {"name": "a-query", "query": "data"},
        {"name": "c-elsewhere", "locations": ["US"]},
        {"name": "d-query", "query": "intern"},
    ]
    config = parse_config(yaml.safe_dump({"subscriptions": subscriptions}))
    assert SubscriptionBook(config).matching(event(), posting()) == ["b-any", "a-query", "d-query"]
