"""A snapshot encoded once is the text `dumps` writes for it, and its documents the posting row's columns."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest

from rolewatch.domain import Location, Posting, Salary, WorkRights
from storage.database import _json_default, dumps
from storage.snapshot import encode_flat, encode_snapshot, posting_snapshot

POSTINGS = [
    Posting(source="acme", external_id="1", title="Data Scientist Intern"),
    Posting(
        source="bücher",
        external_id="東京-7",
        title='Ingénieur "données" \\ stagiaire\n\t\x00\x1f\u2028',
        url="https://example.com/jobs/7?a=1&b=2",
        apply_url=None,
        company="Zürich AG",
        department="",
        locations=(
            Location("Zürich, CH", city="Zürich", country="CH"),
            Location("Remote", remote=True),
        ),
        workplace="hybrid",
        employment_type="intern",
        salary=Salary(40.0, 60.5, "CHF", "hour", "CHF 40–60.50/h"),
        posted_at=datetime(2026, 3, 1, 9, 30, tzinfo=timezone(timedelta(hours=-4))),
        deadline=datetime(2026, 4, 1, tzinfo=UTC),
        work_rights=WorkRights("offered", ("citizen", "permanent resident")),
        description_text="Line one\n\nLine two – 😀",
        description_html="<p>Line one</p><p>Line two – 😀</p>",
        extra={"opens": date(2026, 3, 2), "nested": {"n": [1, 2.5, None, True, -1.5e300]}, "": "empty key"},
        closed=True,
    ),
    Posting(source="s", external_id="2", title="t", salary=Salary(None, None, None, None), extra={}),
]


@pytest.mark.parametrize("posting", POSTINGS)
def test_an_encoded_snapshot_is_what_dumps_writes(posting: Posting) -> None:
    snapshot = posting_snapshot(posting)
    encoded = encode_snapshot(snapshot)
    assert encoded.text == dumps(snapshot)
    for name in ("locations", "salary", "work_rights", "extra"):
        expected = None if snapshot[name] is None else dumps(snapshot[name])
        assert getattr(encoded, name) == expected, name


def test_every_character_is_escaped_in_a_snapshot_as_dumps_escapes_it() -> None:
    """The snapshot's strings are written by msgspec: its escapes must be `dumps`' own."""
    characters = [chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF]
    for start in range(0, len(characters), 4096):
        text = "".join(characters[start : start + 4096])
        posting = Posting(source="s", external_id="1", title=text, description_text=text[::-1])
        snapshot = posting_snapshot(posting)
        assert encode_snapshot(snapshot).text == dumps(snapshot)


def test_a_snapshot_with_a_number_where_a_string_belongs_is_still_what_dumps_writes() -> None:
    snapshot = posting_snapshot(Posting(source="s", external_id="1", title="t"))
    for odd in (7, 1e16, float("nan"), 2**70, True):
        changed = {**snapshot, "title": odd, "external_id": odd}
        assert encode_snapshot(changed).text == dumps(changed)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"title": 'Ingénieur "données"\n\x00', "salary": "CHF 40–60/h", "remote": True, "none": None},
        {"count": 3, "ratio": 1e16},
        {"nested": {"a": [1]}},
        {1: "int key"},
    ],
)
def test_a_flat_document_is_encoded_as_dumps_writes_it(document: dict[Any, Any]) -> None:
    assert encode_flat(document) == dumps(document)


NUMBERS = [0.1, 40.0, 1e16, 1.5e-5, -0.0, 5e-324, 1.7976931348623157e308, 123456789.125, 0, -7, 2**70]
ODD = [float("nan"), float("inf"), -float("inf"), date(2026, 1, 2), {"nested": 1}, [1.5], ["a", 2]]


@pytest.mark.parametrize("value", NUMBERS + ODD, ids=repr)
def test_each_document_is_what_dumps_writes_whatever_it_holds(value: Any) -> None:
    """A posting's documents go through msgspec with each number as `dumps`' own text: every kind
    of float and int, and what must fall back to `dumps` (NaN, dates, nesting), read the same."""
    snapshot = posting_snapshot(POSTINGS[1])
    changed = {
        **snapshot,
        "salary": {**snapshot["salary"], "min": value, "currency": value},
        "locations": [{**location, "city": value} for location in snapshot["locations"]],
        "work_rights": {"sponsorship": None, "rights": ["citizen", value]},
        "extra": {"n": value},
    }
    encoded = encode_snapshot(changed)
    assert encoded.text == dumps(changed)
    for name in ("locations", "salary", "work_rights", "extra"):
        assert getattr(encoded, name) == dumps(changed[name]), name


class Kind(StrEnum):
    INTERN = "intern"


@pytest.mark.parametrize(
    "value",
    [
        *NUMBERS,
        *ODD[:3],
        None,
        True,
        'text "quoted" \\ \n\x00 \u2028 Zürich 😀',
        Kind.INTERN,
        (1, "tuple"),
        {7: "int key", 2.5: "float key", None: "null key", False: "bool key", "": [{}, []]},
        {"opens": date(2026, 3, 2), "at": [datetime(2026, 3, 2, 9, 30, tzinfo=UTC)], "kind": Kind.INTERN},
        {"deep": [[[[{"n": [1, 2.5, None, True, -1.5e300]}]]]]},
    ],
    ids=repr,
)
def test_dumps_writes_what_the_standard_library_writes(value: Any) -> None:
    """`dumps` reuses one C encoder across calls: what it writes must stay `json.dumps`' text."""
    expected = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)
    assert dumps(value) == expected


def test_dumps_refuses_what_it_cannot_store_and_a_cycle_without_harm() -> None:
    with pytest.raises(TypeError, match="cannot store object as JSON"):
        dumps({"a": [object()]})
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(RecursionError):
        dumps(cycle)
    assert dumps({"after": [1, {"a": None}]}) == '{"after":[1,{"a":null}]}'  # the encoder still serves
