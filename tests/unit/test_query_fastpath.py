"""The fast paths of matching (the query index, shared sub-queries, grouped subscriptions) against
the straightforward evaluation of each query and each subscription on its own."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from notifier.matching import SubscriptionBook, compile_filter
from notifier.query import QuerySet, compile_query, posting_text
from rolewatch.config import Config, Subscription
from rolewatch.domain import Event, EventType, Location, Posting

WORDS = ["data", "science", "scientist", "intern", "internship", "senior", "acme", "sydney", "zürich", "ml"]
WILDCARDS = ["dat*", "scien*", "sci*ist", "?ata", "in*", "zur?ch", "*", "intern?"]
FIELDS = ["title", "company", "location", "description"]
PLACES = [
    Location(name="Sydney, NSW", city="Sydney", region="New South Wales", country="AU"),
    Location(name="Zürich", city="Zürich", country="CH"),
    Location(name="Remote - US", remote=True, country="US"),
]

word = st.sampled_from(WORDS)
token = st.one_of(word, word, st.sampled_from(WILDCARDS))
phrase = st.lists(token, min_size=2, max_size=3).map(lambda ts: '"' + " ".join(ts) + '"')
unfielded = st.recursive(
    st.one_of(token, phrase),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from([" AND ", " OR ", " ", " AND NOT ", " -"]), inner).map("".join),
        inner.map(lambda q: f"NOT {q}"),
        inner.map(lambda q: f"({q})"),
    ),
    max_leaves=4,
)
fielded = st.tuples(st.sampled_from(FIELDS), unfielded).map(lambda fq: f"{fq[0]}:({fq[1]})")
queries = st.recursive(
    st.one_of(unfielded, fielded),
    lambda inner: st.tuples(inner, st.sampled_from([" AND ", " OR ", " ", " -"]), inner).map("".join),
    max_leaves=4,
)
text = st.lists(st.sampled_from([*WORDS, "Data", "SCIENCE", "Zurich", "other", "x"]), max_size=6).map(
    lambda ws: " ".join(ws)
)
postings = st.builds(
    lambda title, company, places, description: Posting(
        source="test",
        external_id="1",
        title=title,
        company=company,
        locations=tuple(places),
        description_text=description,
    ),
    text,
    st.one_of(st.none(), st.sampled_from(["Acme", "Acme Data", "Globex"])),
    st.lists(st.sampled_from(PLACES), max_size=2, unique=True),
    text,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(queries, min_size=1, max_size=12), st.lists(postings, min_size=1, max_size=4))
def test_query_set_agrees_with_each_query_on_its_own(texts: list[str], items: list[Posting]) -> None:
    """Shared keys, sub-queries and searches never change which queries match."""
    compiled = [compile_query(q) for q in texts]
    # The same text twice gives two identifiers of one shared query.
    queries = QuerySet({n: q for n, q in enumerate(compiled + compiled[:2])})
    for item in items:
        folded = posting_text(item)
        expected = [n for n, q in enumerate(compiled + compiled[:2]) if q.matches_text(folded)]
        assert queries.matching(folded) == expected, [texts[n % len(texts)] for n in expected]


SYDNEY_DATA = Posting(
    source="test",
    external_id="1",
    title="Data Science Intern",
    company="Acme",
    locations=(PLACES[0],),
    description_text="Join our machine learning team in Sydney",
)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("data", True),  # decided by its key alone
        ("title:(data OR ml)", True),
        ("NOT senior", True),  # decided by the absence of a key
        ("NOT title:data", False),
        ("NOT senior AND NOT ml", True),  # no key to index by: always evaluated
        ("NOT (senior OR data)", False),
        ("title:*", True),
        ("?ata", True),
        ('title:"data science" AND company:acme', True),  # indexed by a pair of keys
        ('title:"science data" AND company:acme', False),
        ('"data science" -senior', True),
        ('"machine learning" sydney', True),  # the phrase in the description, the word in location
        ('title:"machine learning"', False),
        ('title:(dat* AND "science intern") NOT location:zurich', True),
        ('title:(ml OR "data scien*") AND (acme OR globex)', True),
        ('(title:"data science" OR description:"learning team") AND NOT company:globex', True),
        ("title:(intern AND -intern)", False),
        ("description:(machine AND NOT (learning OR ml))", False),
    ],
)
def test_every_kind_of_query_matches_the_same_in_a_query_set(query: str, expected: bool) -> None:
    """Each path of the index (exact, vetoed, always, single key, pair of keys) on one posting."""
    compiled = compile_query(query)
    assert compiled.matches(SYDNEY_DATA) is expected
    others = {f"other{n}": compile_query(q) for n, q in enumerate(["senior", "ml -data", '"science data"'])}
    queries = QuerySet({"q": compiled, **others, "again": compiled})
    found = queries.matching(posting_text(SYDNEY_DATA))
    assert ("q" in found, "again" in found) == (expected, expected)


subscription_fields = st.fixed_dictionaries(
    {},
    optional={
        "query": queries,
        "locations": st.lists(st.sampled_from(["Sydney", "AU", "Zürich", "Remote"]), min_size=1, max_size=2),
        "companies": st.lists(st.sampled_from(["Acme", "Globex"]), min_size=1, max_size=1),
        "events": st.lists(
            st.sampled_from(["new", "changed", "closed"]), min_size=1, max_size=2, unique=True
        ),
        "sources": st.lists(st.sampled_from(["test", "other"]), min_size=1, max_size=1),
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(subscription_fields, min_size=1, max_size=8),
    postings,
    st.sampled_from([EventType.NEW, EventType.CHANGED, EventType.CLOSED]),
)
def test_book_agrees_with_each_subscription_on_its_own(
    fields: list[dict[str, Any]], item: Posting, kind: EventType
) -> None:
    """Subscriptions that share filters or a query are judged together, never differently."""
    # Each subscription twice, so that shared groups and shared queries always occur.
    subscriptions = [Subscription.model_validate({"name": f"s{n}", **f}) for n, f in enumerate(fields * 2)]
    book = SubscriptionBook(Config(subscriptions=subscriptions))
    event = Event(kind, "test", "1", item.title, item.company, None, datetime(2026, 11, 1, tzinfo=UTC))
    expected = [s.name for s in subscriptions if _wants(s, event, item)]
    assert book.matching(event, item) == expected


def _wants(subscription: Subscription, event: Event, item: Posting) -> bool:
    wanted = compile_filter(subscription)
    if not (wanted.wants_event(event.type.value, event.source) and wanted.accepts(item)):
        return False
    return not subscription.query or compile_query(subscription.query).matches(item)
