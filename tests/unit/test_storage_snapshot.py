"""A snapshot encoded once is the text `dumps` writes for it, and its documents the posting row's columns."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from rolewatch.domain import Location, Posting, Salary, WorkRights
from storage.database import dumps
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
