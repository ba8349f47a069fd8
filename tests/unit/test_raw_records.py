"""A JSON listing read as each record's own bytes: the same records as the standard path, the same
errors for a body it cannot split, and a digest of the bytes that leaves out volatile members only."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import TextResponse

from crawler.digests import bytes_digest
from crawler.spider import (
    ListingError,
    RawRecord,
    RawRecords,
    decode_record,
    json_of,
    list_at,
    raw_list_at,
)
from tests.fixtures.boards import greenhouse_board, greenhouse_job

URL = "http://127.0.0.1:8000/v1/boards/koala/jobs?content=true"


def response(body: bytes) -> TextResponse:
    return TextResponse(URL, body=body, headers={"Content-Type": "application/json"}, request=Request(URL))


def standard(body: bytes) -> list[Any]:
    return list_at(json_of(response(body)), "jobs")


def test_each_record_is_its_own_bytes_and_decodes_to_what_the_standard_path_reads() -> None:
    jobs = [greenhouse_job(n, f"Data Scientist Intern {n}") for n in range(5)]
    body = json.dumps(greenhouse_board(jobs), indent=2, ensure_ascii=False).encode()
    records = raw_list_at(response(body), "jobs")
    assert isinstance(records, RawRecords)
    assert len(records) == 5
    assert all(isinstance(record, RawRecord) for record in records)
    assert [json.loads(record.data) for record in records] == standard(body)


def test_other_members_of_any_shape_are_skipped() -> None:
    body = b'{"meta": {"total": 2}, "jobs": [{"id": 1}, 2, "x", null], "links": [1, {"a": []}]}'
    assert [record.data for record in raw_list_at(response(body), "jobs")] == [
        b'{"id": 1}',
        b"2",
        b'"x"',
        b"null",
    ]


def test_a_record_decodes_to_what_the_standard_library_reads_of_it() -> None:
    """`decode_record` (msgspec, with the standard library for what it refuses) against `json.loads`,
    values of every kind and type compared: a float that came back an int would change a digest."""
    members = [
        b'"id": 12345678901234567890123',  # beyond 64 bits
        b'"pay": 1e400',  # beyond a float: msgspec refuses it, json.loads makes it inf
        b'"small": -0.0, "exp": 1E5, "neg": -12, "frac": 0.1',
        rb'"text": "caf\u00e9 \"quoted\" \\ \n \ud83d\ude00 \u2028", "raw": "\u65e5\u672c"',
        '"utf8": "Zürich 日本 😀"'.encode(),
        b'"nested": {"a": [1, 2.5, [], {}, null, true, false]}, "nested": {"b": "last wins"}',
    ]
    body = b'{"jobs": [' + b", ".join(b"{" + member + b"}" for member in members) + b"]}"
    records = raw_list_at(response(body), "jobs")
    assert isinstance(records, RawRecords)
    for raw in records.data:
        decoded, expected = decode_record(raw), json.loads(bytes(raw))
        assert repr(decoded) == repr(expected)
        assert _types(decoded) == _types(expected)
    assert decode_record(records.data[1]) == {"pay": float("inf")}


def _types(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _types(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_types(item) for item in value]
    return type(value).__name__


@pytest.mark.parametrize(
    "body",
    [
        b'\xef\xbb\xbf{"jobs": [{"id": 1}]}',  # a BOM: the standard library reads it
        b'{"jobs": [{"id": 1, "score": NaN}]}',  # NaN: the standard library reads it
        b'{"jobs": [{"id": 1, "title": "\\ud800"}]}',  # a lone surrogate
    ],
)
def test_a_body_msgspec_will_not_split_is_read_by_the_standard_path(body: bytes) -> None:
    records = raw_list_at(response(body), "jobs")
    assert not any(isinstance(record, RawRecord) for record in records)
    assert repr(records) == repr(standard(body))


@pytest.mark.parametrize(
    "body",
    [
        b'{"jobs": [{"id": 1, "title": "\xff"}]}',  # not UTF-8 inside a record msgspec would leave raw
        b'{"jobs": [{"id": 1}',  # cut off
        b'{"jobs": {"id": 1}}',  # not a list
        b'{"meta": 1}',  # no list
        b"[]",
        b"<html><body>down for maintenance</body></html>",
        b"",
    ],
)
def test_a_body_that_is_not_the_listing_fails_with_the_standard_paths_error(body: bytes) -> None:
    with pytest.raises(ListingError) as expected:
        standard(body)
    with pytest.raises(ListingError) as raised:
        raw_list_at(response(body), "jobs")
    assert str(raised.value) == str(expected.value)


VOLATILE = ("updated_at",)


def test_the_digest_leaves_out_volatile_members_wherever_they_are() -> None:
    first = b'{"id":1,"updated_at":"2026-11-01T08:50:01-04:00","title":"Analyst"}'
    bumped = b'{"id":1,"updated_at" : "2026-12-24T00:00:00Z","title":"Analyst"}'
    cleared = b'{"id":1,"updated_at":null,"title":"Analyst"}'
    assert bytes_digest(first, VOLATILE) == bytes_digest(bumped, VOLATILE) == bytes_digest(cleared, VOLATILE)
    nested = [b'{"id":1,"meta":{"updated_at":%d}}' % n for n in (17, 18)]
    assert bytes_digest(nested[0], VOLATILE) == bytes_digest(nested[1], VOLATILE)
    assert bytes_digest(first) != bytes_digest(bumped)


def test_every_other_byte_counts() -> None:
    record = b'{"id":1,"updated_at":"x","title":"Analyst"}'
    for other in (
        b'{"id":2,"updated_at":"x","title":"Analyst"}',
        b'{"id":1,"updated_at":"x","title":"Analyst "}',
        b'{"id":1, "updated_at":"x","title":"Analyst"}',  # not even whitespace is normalised
        b'{"id":1,"updated_at":{"at":"x"},"title":"Analyst"}',  # an object is not a scalar: kept
    ):
        assert bytes_digest(record, VOLATILE) != bytes_digest(other, VOLATILE)


def test_a_volatile_key_quoted_inside_a_string_is_text_not_a_member() -> None:
    one = rb'{"id":1,"title":"say \"updated_at\": \"a\" twice"}'
    two = rb'{"id":1,"title":"say \"updated_at\": \"b\" twice"}'
    assert bytes_digest(one, VOLATILE) != bytes_digest(two, VOLATILE)
