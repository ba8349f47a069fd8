"""The plain data that crosses stage boundaries: its fingerprint recipe, and its trip between processes."""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rolewatch.domain import KnownDigests, Location, Posting, Salary, WorkRights, fingerprint_of


@given(st.dictionaries(st.text(max_size=12), st.text()))
def test_the_fingerprint_is_the_digest_of_the_sorted_json(values: dict[str, str]) -> None:
    """Stored fingerprints are compared with the next crawl's, so their recipe must never drift."""
    text = json.dumps(dict(sorted(values.items())), ensure_ascii=False, separators=(",", ":"))
    assert fingerprint_of(values) == hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


@pytest.mark.parametrize(
    "value",
    [
        Location("Sydney, NSW", city="Sydney", region="NSW", country="AU", remote=True),
        Salary(78000.0, 82000.5, "AUD", "year", "AUD 78,000 - 82,000.50 / Year"),
        WorkRights("citizens_only", ("Australian Citizen", "NZ Citizen")),
    ],
)
def test_every_field_survives_the_trip_to_the_parent_process(value: Location | Salary | WorkRights) -> None:
    assert all(getattr(value, f.name) != f.default for f in fields(value)), "every field set"
    assert pickle.loads(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)) == value


def test_a_posting_survives_the_trip_to_the_parent_process() -> None:
    posting = Posting(
        source="koala",
        external_id="1",
        title="Data Scientist Intern",
        locations=(Location("Sydney, NSW", city="Sydney", region="NSW", country="AU"),),
        salary=Salary(40, 60, "USD", "hour", "USD 40 - 60 / hour"),
        posted_at=datetime(2026, 8, 5, tzinfo=UTC),
        work_rights=WorkRights("offered"),
        raw_digest="d",
    )
    again = pickle.loads(pickle.dumps(posting, protocol=pickle.HIGHEST_PROTOCOL))
    assert again == posting and again.fingerprint == posting.fingerprint


def test_counts_are_spelt_with_the_right_plural() -> None:
    from rolewatch.domain import plural

    assert [plural(n, "alert") for n in (0, 1, 2)] == ["0 alerts", "1 alert", "2 alerts"]
    assert (
        plural(1, "delivery", "deliveries") == "1 delivery"
        and plural(3, "delivery", "deliveries") == "3 deliveries"
    )


@given(st.dictionaries(st.text(), st.text(min_size=1)))
def test_known_digests_read_as_the_pairs_of_their_two_arrays(pairs: dict[str, str]) -> None:
    """What the database aggregates (two JSON arrays) reads as the mapping it stands for, both
    ways round, and crosses to the worker as those two strings, not as one object per pair."""
    ids, digests = json.dumps(list(pairs)), json.dumps(list(pairs.values()))
    known = KnownDigests(ids, digests)
    assert known == pairs
    assert known.by_digest() == {digest: external_id for external_id, digest in pairs.items()}
    copy = pickle.loads(pickle.dumps(known))
    assert (copy.ids_json, copy.digests_json) == (ids, digests) and copy == pairs


@pytest.mark.parametrize(
    ("ids", "digests"),
    [('["a", "b"]', '["d1"]'), ('["a"]', "[1]"), ('{"a": "d1"}', '["d1"]'), ("[null]", '["d1"]')],
)
def test_known_digests_that_do_not_pair_up_read_as_none(ids: str, digests: str) -> None:
    """A posting taken for another would be a sighting of the wrong one: none costs only a normalisation."""
    known = KnownDigests(ids, digests)
    assert dict(known) == {} and known.by_digest() == {}
