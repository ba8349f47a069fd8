"""The subscription query language against a table of cases, and its error messages."""

from __future__ import annotations

from typing import Any

import pytest

from notifier.query import QuerySet, QuerySyntaxError, compile_query, posting_text
from rolewatch.domain import Location, Posting

SYDNEY = (Location(name="Sydney, NSW", city="Sydney", region="New South Wales", country="AU"),)
ZURICH = (Location(name="Zürich", city="Zürich", country="CH"),)
MONTREAL = (Location(name="Montréal, QC", city="Montréal", region="Québec", country="CA"),)
REMOTE_US = (Location(name="Remote - US", remote=True, country="US"),)


def posting(
    title: str = "Software Engineer",
    company: str | None = "Acme",
    locations: tuple[Location, ...] = SYDNEY,
    description: str = "",
) -> Posting:
    return Posting(
        source="test",
        external_id="1",
        title=title,
        company=company,
        locations=locations,
        description_text=description,
    )


SPEC = 'title:(intern OR internship) AND ("data scien*" OR "machine learning") NOT senior'

CASES: list[tuple[str, dict[str, Any], bool]] = [
    # The SPEC example.
    (SPEC, {"title": "Data Science Intern"}, True),
    (SPEC, {"title": "Machine Learning Internship"}, True),
    (SPEC, {"title": "Senior Data Scientist Intern"}, False),
    (SPEC, {"title": "Data Scientist"}, False),
    (SPEC, {"title": "Intern", "description": "Join our machine   learning team"}, True),
    (SPEC, {"title": "Internal Data Scientist"}, False),
    # Words, case, whole words.
    ("engineer", {"title": "Software ENGINEER"}, True),
    ("ENGINEER", {"title": "software engineer"}, True),
    ("intern", {"title": "Internal tools engineer"}, False),
    ("intern*", {"title": "Internal tools engineer"}, True),
    ("scien*", {"title": "Data Scientist"}, True),
    ("sci*ist", {"title": "Data Scientist"}, True),
    ("data?", {"title": "Data Scientist"}, False),
    ("dat?", {"title": "Data Scientist"}, True),
    # Accents, both ways.
    ("zurich", {"locations": ZURICH}, True),
    ("Zürich", {"title": "Engineer in Zurich"}, True),
    ("location:montreal", {"locations": MONTREAL}, True),
    ("location:quebec", {"locations": MONTREAL}, True),
    ('"cafe creme"', {"description": "Free Café Crème every day"}, True),
    # Phrases versus words.
    ('"data scientist"', {"title": "Data Scientist"}, True),
    ('"data scientist"', {"title": "Scientist, Data"}, False),
    ("data scientist", {"title": "Scientist, Data"}, True),
    ('"data scien*"', {"title": "Data Scientist"}, True),
    ('"data science"', {"title": "Data", "description": "science"}, False),
    # Implicit AND, +/-, NOT.
    ("data engineer", {"title": "Data Engineer"}, True),
    ("data engineer", {"title": "Data Analyst"}, False),
    ("data -senior", {"title": "Senior Data Engineer"}, False),
    ("+data -senior", {"title": "Data Engineer"}, True),
    ("NOT senior", {"title": "Data Engineer"}, True),
    ("NOT senior", {"title": "Senior Data Engineer"}, False),
    ("NOT senior AND data", {"title": "Data Engineer"}, True),
    ("data AND NOT senior", {"title": "Senior Data Engineer"}, False),
    # OR and nested parentheses.
    ("analyst OR scientist", {"title": "Data Scientist"}, True),
    ("((data OR ml) AND (engineer OR (research AND scientist)))", {"title": "ML Research Scientist"}, True),
    ("((data OR ml) AND (engineer OR (research AND scientist)))", {"title": "ML Scientist"}, False),
    # Fields.
    ("company:acme", {"company": "ACME Corp"}, True),
    ("company:acme", {"company": "Globex", "description": "Unlike Acme, we ..."}, False),
    ("acme", {"company": "Globex", "description": "Unlike Acme, we ..."}, True),
    ('company:"acme corp"', {"company": "Acme Corp."}, True),
    ("company:acme", {"company": None}, False),
    ("title:engineer", {"title": "Data Scientist", "description": "engineer"}, False),
    ("description:python", {"description": "We use Python and SQL."}, True),
    ("description:python", {"title": "Python Developer", "description": "We use Go."}, False),
    ("location:sydney", {"locations": SYDNEY}, True),
    ("location:AU", {"locations": SYDNEY}, True),
    ("location:australia", {"locations": SYDNEY}, True),
    ('location:"new south wales"', {"locations": SYDNEY}, True),
    ("location:sydney", {"locations": ZURICH}, False),
    ("location:remote", {"locations": REMOTE_US}, True),
    ("location:(sydney OR zurich)", {"locations": ZURICH}, True),
    ("TITLE:engineer", {"title": "Engineer"}, True),
    # A phrase never spans two locations.
    ('location:"sydney zurich"', {"locations": SYDNEY + ZURICH}, False),
]


@pytest.mark.parametrize(("query", "fields", "expected"), CASES)
def test_query_matches(query: str, fields: dict[str, Any], expected: bool) -> None:
    assert compile_query(query).matches(posting(**fields)) is expected


@pytest.mark.parametrize(("query", "fields", "expected"), CASES)
def test_query_set_agrees_with_single_queries(query: str, fields: dict[str, Any], expected: bool) -> None:
    """The pre-filtering index must never drop a query that matches on its own."""
    queries = QuerySet({"q": compile_query(query), "other": compile_query("nothingmatchesthis")})
    assert queries.matching(posting_text(posting(**fields))) == (["q"] if expected else [])


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("(data OR ml", "position"),
        ("data AND", "position"),
        ("AND data", "position 0"),
        ("data) OR ml", "position 4"),
        ('"unclosed phrase', "position"),
        ("data OR OR ml", "position"),
        ("", "position"),
        ("salary:100k", "salary"),
        ("salary:100k", "title, company, location, description"),
        ("title:company:acme", "nested"),
        ("title:[a TO c]", "position"),
        ("engineer~", "position"),
    ],
)
def test_bad_queries_name_the_position_or_field(query: str, fragment: str) -> None:
    with pytest.raises(QuerySyntaxError) as caught:
        compile_query(query)
    assert fragment in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_dangling_and_names_its_position() -> None:
    with pytest.raises(QuerySyntaxError, match=r"unexpected 'AND' at position 9"):
        compile_query("data AND AND ml")
