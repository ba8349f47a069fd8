"""Which subscriptions want which events: the query and the structured filters, compiled once."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

import pycountry

from notifier.query import Query, QuerySet, compile_query, fold, posting_text
from rolewatch.config import Config, MinSalary, SalaryConversion, Subscription
from rolewatch.domain import Event, Location, Posting, Salary

REMOTE = "remote"


@dataclass(frozen=True)
class SubscriptionFilter:
    """One subscription's filters in a form that is cheap to test against many postings."""

    name: str
    events: frozenset[str]
    sources: frozenset[str]
    companies: frozenset[str]
    places: tuple[frozenset[str], ...]
    employment_types: frozenset[str]
    workplaces: frozenset[str]
    sponsorship: frozenset[str]
    min_salary: MinSalary | None
    conversions: tuple[SalaryConversion, ...]

    def wants_event(self, kind: str, source: str) -> bool:
        """An event of type `kind` (`event.type.value`) from `source`."""
        return kind in self.events and (not self.sources or source in self.sources)

    def accepts(self, posting: Posting, facts: PostingFacts | None = None) -> bool:
        """The structured filters; each one left empty accepts everything."""
        facts = facts or posting_facts(posting)
        if self.companies and facts.company not in self.companies:
            return False
        if self.employment_types and posting.employment_type not in self.employment_types:
            return False
        if self.workplaces and not self._workplace_fits(posting):
            return False
        if self.sponsorship and (
            posting.work_rights is None or posting.work_rights.sponsorship not in self.sponsorship
        ):
            return False
        if self.places and not any(wanted & facts.places for wanted in self.places):
            return False
        return self.min_salary is None or pays_at_least(posting.salary, self.min_salary, self.conversions)

    def _workplace_fits(self, posting: Posting) -> bool:
        if posting.workplace in self.workplaces:
            return True
        return REMOTE in self.workplaces and any(location.remote for location in posting.locations)


@dataclass(frozen=True)
class PostingFacts:
    """A posting's folded company and every name its places answer to, worked out once per event."""

    company: str
    places: frozenset[str]


def posting_facts(posting: Posting) -> PostingFacts:
    places = set().union(*(place_names(location) for location in posting.locations))
    if posting.workplace == REMOTE:
        places.add(REMOTE)
    return PostingFacts(company=fold(posting.company or ""), places=frozenset(places))


def compile_filter(
    subscription: Subscription, conversions: Sequence[SalaryConversion] = ()
) -> SubscriptionFilter:
    return SubscriptionFilter(
        name=subscription.name,
        events=frozenset(subscription.events),
        sources=frozenset(subscription.sources),
        companies=frozenset(fold(company) for company in subscription.companies),
        places=tuple(wanted_place(place) for place in subscription.locations),
        employment_types=frozenset(subscription.employment_types),
        workplaces=frozenset(subscription.workplace),
        sponsorship=frozenset(subscription.sponsorship),
        min_salary=subscription.min_salary,
        conversions=tuple(conversions),
    )


def wanted_place(text: str) -> frozenset[str]:
    """The folded names one subscription location answers to: itself, and a country's code and names."""
    folded = fold(text)
    names = {folded}
    country = _country(text)
    if country is not None:
        names.update(fold(name) for name in _country_names(country))
    return frozenset(names)


def place_names(location: Location) -> frozenset[str]:
    """Every folded name a posting's location can be asked for by: city, region, country code and name."""
    names = {fold(part) for part in (location.name, location.city, location.region) if part}
    if location.country:
        names.update(fold(name) for name in _country_names(location.country))
    if location.remote:
        names.add(REMOTE)
    return frozenset(names)


@lru_cache(maxsize=1024)
def _country(text: str) -> str | None:
    """An ISO alpha-2 code for a country name or code; None for a city or region."""
    try:
        found = pycountry.countries.lookup(text.strip())
    except LookupError:
        return None
    return str(found.alpha_2)


@lru_cache(maxsize=1024)
def _country_names(code: str) -> tuple[str, ...]:
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return (code,)
    names = [code, *(getattr(country, attr, "") for attr in ("name", "common_name", "official_name"))]
    return tuple(dict.fromkeys(name for name in names if name))


def pays_at_least(salary: Salary | None, wanted: MinSalary, conversions: Sequence[SalaryConversion]) -> bool:
    """The top of the posting's range reaches `wanted`, in the same currency and period or by a stated rule.

    Pay that cannot be compared (none given, another currency or period with no rule) does not
    match: a subscriber who set a floor asked not to see roles below it, and a guess could be one.
    """
    if salary is None or salary.currency is None or salary.period is None:
        return False
    top = salary.max if salary.max is not None else salary.min
    if top is None:
        return False
    if (salary.currency, salary.period) == (wanted.currency, wanted.per):
        return top >= wanted.amount
    for rule in conversions:
        source = (rule.from_.currency, rule.from_.per)
        target = (rule.to.currency, rule.to.per)
        if source == (salary.currency, salary.period) and target == (wanted.currency, wanted.per):
            return top * rule.factor >= wanted.amount
    return False


class SubscriptionBook:
    """Every subscription of one configuration, compiled: queries indexed together, filters ready."""

    def __init__(self, config: Config) -> None:
        conversions = tuple(config.salary_conversions)
        self.filters = {s.name: compile_filter(s, conversions) for s in config.subscriptions}
        self.subscriptions = {s.name: s for s in config.subscriptions}
        self._names = list(self.filters)
        self._event_types = frozenset().union(*(f.events for f in self.filters.values()))
        # Subscriptions with equal filters (event types and sources too) are judged once per event,
        # and those that also share the query are one entry of the query index.
        groups: dict[SubscriptionFilter, int] = {}
        entries: dict[tuple[int, str], list[int]] = {}
        for index, subscription in enumerate(config.subscriptions):
            group = replace(self.filters[subscription.name], name="")
            number = groups.setdefault(group, len(groups))
            entries.setdefault((number, subscription.query or ""), []).append(index)
        self._groups = list(groups)
        self._entries = [(group, tuple(members)) for (group, _), members in entries.items()]
        texts = dict(enumerate(text for _, text in entries))
        self._unqueried = [entry for entry, text in texts.items() if not text]
        self._queries = QuerySet(_compile_once({entry: text for entry, text in texts.items() if text}))

    def matching(self, event: Event, posting: Posting) -> list[str]:
        """The names of the subscriptions that want this event about this posting, in configuration order.

        The query index narrows the candidates first, so the cost follows the subscriptions that
        could match rather than all of them; each distinct filter is then judged once.
        """
        kind = event.type.value
        if kind not in self._event_types:
            return []
        entries = self._queries.matching_set(posting_text(posting))
        entries.update(self._unqueried)
        facts = posting_facts(posting)
        verdicts: dict[int, bool] = {}
        found: list[int] = []
        for entry in entries:
            group, members = self._entries[entry]
            accepted = verdicts.get(group)
            if accepted is None:
                judged = self._groups[group]
                accepted = judged.wants_event(kind, event.source) and judged.accepts(posting, facts)
                verdicts[group] = accepted
            if accepted:
                found.extend(members)
        found.sort()
        return [self._names[index] for index in found]


def _compile_once(texts: Mapping[int, str]) -> dict[int, Query]:
    """Many subscriptions ask the same question: each distinct text is parsed once."""
    compiled = {text: compile_query(text) for text in dict.fromkeys(texts.values())}
    return {entry: compiled[text] for entry, text in texts.items()}
