"""Time matching 10,000 subscription queries against 1,000 postings (issue 3 asks for ≤ 2 s)."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime

from notifier.matching import SubscriptionBook, SubscriptionFilter, compile_filter, posting_facts
from notifier.query import Query, QuerySet, compile_query, posting_text
from rolewatch.config import Config, Subscription
from rolewatch.domain import Event, EventType, Location, Posting

ROLES = [
    "data",
    "scientist",
    "engineer",
    "software",
    "machine",
    "learning",
    "analyst",
    "intern",
    "internship",
    "graduate",
    "research",
    "backend",
    "frontend",
    "platform",
    "security",
    "product",
    "manager",
    "designer",
    "quant",
    "developer",
    "devops",
    "mobile",
    "cloud",
    "infrastructure",
]
LEVELS = ["senior", "junior", "staff", "principal", "lead", "associate", "entry"]
COMPANIES = [
    "Acme",
    "Globex",
    "Initech",
    "Umbrella",
    "Hooli",
    "Stark Industries",
    "Wayne Enterprises",
    "Tyrell",
    "Cyberdyne",
    "Soylent",
    "Wonka",
    "Nakatomi",
    "Oscorp",
    "Massive Dynamic",
]
PLACES = [
    ("Sydney", "New South Wales", "AU"),
    ("Melbourne", "Victoria", "AU"),
    ("Zürich", None, "CH"),
    ("Montréal", "Québec", "CA"),
    ("London", "England", "GB"),
    ("New York", "New York", "US"),
    ("Berlin", None, "DE"),
    ("Singapore", None, "SG"),
    ("Toronto", "Ontario", "CA"),
]
FILLER = [
    "we",
    "build",
    "python",
    "sql",
    "spark",
    "kubernetes",
    "team",
    "customers",
    "remote",
    "hybrid",
    "visa",
    "sponsorship",
    "benefits",
    "growth",
    "café",
    "mentoring",
    "rust",
    "go",
    "java",
    "aws",
]


def vocabulary(rng: random.Random, size: int = 3000) -> list[str]:
    """Pseudo-words, so descriptions have a realistic spread of words rather than the same forty."""
    letters = "abcdefghijklmnopqrstuvwxyzéü"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(size)] + FILLER


def make_postings(rng: random.Random, count: int) -> list[Posting]:
    postings = []
    words = vocabulary(rng)
    for n in range(count):
        title = " ".join(rng.sample(LEVELS, rng.randint(0, 1)) + rng.sample(ROLES, rng.randint(1, 3)))
        places = rng.sample(PLACES, rng.randint(1, 2))
        locations = tuple(Location(name=c, city=c, region=r, country=k) for c, r, k in places)
        description = " ".join(rng.choices(words, k=rng.randint(50, 400)) + rng.sample(ROLES, 3))
        postings.append(
            Posting(
                source="bench",
                external_id=str(n),
                title=title.title(),
                company=rng.choice(COMPANIES),
                locations=locations,
                description_text=description,
            )
        )
    return postings


def make_query(rng: random.Random) -> str:
    role = rng.choice(ROLES)
    shapes = [
        lambda: role,
        lambda: f"title:{role}",
        lambda: f"{role} {rng.choice(ROLES)}",
        lambda: (
            f'title:({role} OR {rng.choice(ROLES)}) AND ("{rng.choice(ROLES)} {rng.choice(ROLES)}"'
            f" OR {rng.choice(ROLES)[:4]}*) NOT {rng.choice(LEVELS)}"
        ),
        lambda: f"company:{rng.choice(COMPANIES).split()[0]} AND location:{rng.choice(PLACES)[2]}",
        lambda: f'"{role} {rng.choice(ROLES)}" -{rng.choice(LEVELS)}',
        lambda: f"location:({rng.choice(PLACES)[0].split()[0]} OR {rng.choice(PLACES)[0].split()[0]}) {role}",
        lambda: f"description:{rng.choice(FILLER)} AND title:{role[:3]}*",
        lambda: f"NOT {rng.choice(LEVELS)} AND ({role} OR {rng.choice(ROLES)})",
        lambda: f"NOT title:{role}",
    ]
    return rng.choice(shapes)()


def main() -> None:
    rng = random.Random(42)
    started = time.perf_counter()
    queries: list[Query] = [compile_query(make_query(rng)) for _ in range(10_000)]
    compiled = time.perf_counter()
    postings = make_postings(rng, 1_000)
    started_fold = time.perf_counter()
    texts = [posting_text(p) for p in postings]
    folded = time.perf_counter()
    query_set = QuerySet(dict(enumerate(queries)))
    indexed = time.perf_counter()
    matches = sum(len(query_set.matching(t)) for t in texts)
    matched = time.perf_counter()
    sample = texts[:100]
    naive = sum(q.matches_text(t) for t in sample for q in queries)
    done = time.perf_counter()
    assert naive == sum(len(query_set.matching(t)) for t in sample)
    print(f"compile 10,000 queries:            {compiled - started:6.3f} s")
    print(f"fold 1,000 postings:               {folded - started_fold:6.3f} s")
    print(f"index the queries:                 {indexed - folded:6.3f} s")
    print(f"match (QuerySet, pre-filtered):    {matched - indexed:6.3f} s  ({matches:,} matches)")
    print(f"fold + index + match:              {matched - started_fold:6.3f} s")
    print(
        f"match (every query × every posting, no index): {(done - matched) * 10:6.3f} s  (100 postings × 10)"
    )


def student_query(rng: random.Random) -> str:
    """What a job seeker writes: a role in the title, often narrowed by a second word or a level."""
    role, other = rng.sample(ROLES, 2)
    shapes = [
        lambda: f"title:({role} AND {other})",
        lambda: f'title:"{role} {other}"',
        lambda: f"title:{role} AND (intern OR internship OR graduate) NOT {rng.choice(LEVELS)}",
        lambda: f"title:({role} OR {other}) AND company:{rng.choice(COMPANIES).split()[0]}",
        lambda: f"title:{role[:4]}* AND location:{rng.choice(PLACES)[0].split()[0]}",
    ]
    return rng.choice(shapes)()


def subscriptions(
    rng: random.Random, count: int, query: Callable[[random.Random], str]
) -> list[Subscription]:
    """Most have a query, a third add places, some a company, a tenth only an employment type."""
    found = []
    for n in range(count):
        fields: dict[str, object] = {"name": f"s{n}", "query": query(rng)}
        if rng.random() < 0.33:
            fields["locations"] = [rng.choice(PLACES)[rng.randint(0, 2)] or "AU"]
        if rng.random() < 0.2:
            fields["companies"] = [rng.choice(COMPANIES)]
        if rng.random() < 0.1:
            fields.pop("query")
            fields["employment_types"] = ["intern"]
        found.append(Subscription.model_validate(fields))
    return found


def match_subscriptions(label: str, query: Callable[[random.Random], str]) -> None:
    """The notifier's whole matching step: 10,000 subscriptions (query + filters) × 1,000 events."""
    rng = random.Random(7)
    config = Config(subscriptions=subscriptions(rng, 10_000, query))
    started = time.perf_counter()
    book = SubscriptionBook(config)
    compiled = time.perf_counter()
    postings = make_postings(rng, 1_000)
    at = datetime(2026, 11, 23, tzinfo=UTC)
    events = [Event(EventType.NEW, p.source, p.external_id, p.title, p.company, None, at) for p in postings]
    began = time.perf_counter()
    alerts = sum(len(book.matching(event, posting)) for event, posting in zip(events, postings, strict=True))
    matched = time.perf_counter()
    judges = [
        (s.name, compile_filter(s), compile_query(s.query) if s.query else None) for s in config.subscriptions
    ]
    sample = list(zip(events, postings, strict=True))[:50]
    assert all(book.matching(e, p) == one_by_one(judges, e, p) for e, p in sample), "the book lost an alert"
    print(f"{label}: compile 10,000 subscriptions: {compiled - started:6.3f} s")
    print(f"{label}: match 1,000 events:           {matched - began:6.3f} s  ({alerts:,} alerts)")


Judge = tuple[str, SubscriptionFilter, Query | None]


def one_by_one(judges: list[Judge], event: Event, posting: Posting) -> list[str]:
    """The subscriptions that want `event`, each judged on its own: what the book must agree with."""
    text = posting_text(posting)
    facts = posting_facts(posting)
    return [
        name
        for name, wanted, query in judges
        if wanted.wants_event(event.type.value, event.source)
        and wanted.accepts(posting, facts)
        and (query is None or query.matches_text(text))
    ]


if __name__ == "__main__":
    main()
    # Job seekers' queries: narrow, mostly about the title (a few alerts per event).
    match_subscriptions("job seekers", student_query)
    # The broad mix above, where one subscription in eleven matches every event: a worst case.
    match_subscriptions("broad mix  ", make_query)
