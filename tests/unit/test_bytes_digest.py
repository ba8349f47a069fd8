"""The raw digest of a record's bytes never moves: whatever the bytes, the members it leaves out
are exactly those the first version of its pattern removed, so every stored digest stays valid."""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys

import msgspec
import pytest
from hypothesis import event, example, given
from hypothesis import strategies as st

from crawler.digests import PageDigests, StrippedDigests, _volatile_members, bytes_digest, record_digests
from crawler.workers import _child_environment

#: Volatile keys, as a spider declares them.
Volatile = tuple[str, ...]


def first_version(volatile: tuple[str, ...]) -> re.Pattern[bytes]:
    """The pattern every raw digest stored before #14's speed-up was made with, written out as it
    was (crawler/spider.py at b28b1c4): the definition the faster pattern must keep to."""
    keys = b"|".join(re.escape(json.dumps(key).encode()) for key in volatile)
    scalar = rb'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*|true|false|null'
    return re.compile(rb"(?:" + keys + rb")[ \t\n\r]*:[ \t\n\r]*(?:" + scalar + rb")")


def stored_digest(data: bytes, volatile: tuple[str, ...]) -> str:
    return hashlib.sha256(first_version(volatile).sub(b"", data)).hexdigest()[:32]


def literal(key: str) -> bytes:
    return json.dumps(key).encode()


#: Keys with the characters that make their JSON text tricky: quotes, backslashes, non-ASCII.
KEYS = st.lists(
    st.one_of(st.just("updated_at"), st.just("postedOn"), st.text('a_"\\ü\n', min_size=1, max_size=4)),
    min_size=1,
    max_size=3,
    unique=True,
).map(tuple)

#: Pieces of JSON-ish text: every piece a member's pattern turns on, escapes and half-escapes.
PIECES = [
    b'"', b"\\", b'\\"', b"\\\\", b"\\\n", b":", b" : ", b"\t", b"\r\n", b",", b"{", b"}", b"[", b"]",
    b"-", b"0", b"17", b"1.5e+3", b"e", b".", b"true", b"false", b"null", b"nul", b"x", b"\xc3\xbc",
    b'"a"', b'"x\\"y"', b'"\\u00fc"',
]  # fmt: skip
SCALARS = [b'"a"', b'"x\\"y"', b'"\\\\"', b'""', b"17", b"-1.5e+3", b"0.", b"true", b"false", b"null"]


@st.composite
def soups(draw: st.DrawFn) -> tuple[bytes, tuple[str, ...]]:
    """Bytes that are seldom JSON, strewn with the keys' texts (and other keys' texts)."""
    keys = draw(KEYS)
    texts = st.sampled_from([literal(key) for key in (*keys, "updated", "at")])
    colons = st.sampled_from([b":", b" : ", b":\n", b""])
    values = st.sampled_from([*SCALARS, b"{", b"[", b'"open', b'"cut\\\n"', b"-", b"nul"])
    members = st.tuples(texts, colons, values, st.sampled_from(PIECES)).map(b"".join)
    pieces = st.one_of(members, texts, st.sampled_from(PIECES), st.binary(max_size=2))
    return b"".join(draw(st.lists(pieces, max_size=40))), keys


def json_records(keys: tuple[str, ...]) -> st.SearchStrategy[dict[str, object]]:
    """JSON objects that often hold the keys, at any depth, with any value."""
    scalars = st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
        st.text('"\\x: ü', max_size=6), st.sampled_from([literal(key).decode() + ": 1" for key in keys]),
    )  # fmt: skip
    names = st.one_of(st.sampled_from(keys), st.text("ab_", max_size=3))
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=4),
        max_leaves=12,
    )
    return st.dictionaries(names, scalars | values, max_size=6)  # a record


@st.composite
def documents(draw: st.DrawFn) -> tuple[bytes, tuple[str, ...]]:
    """Valid JSON, as boards write it: any spacing, escaped or raw non-ASCII."""
    keys = draw(KEYS)
    value = draw(json_records(keys))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (",", " : "), (",\n", ":\t")]))
    text = json.dumps(value, separators=separators, ensure_ascii=draw(st.booleans()))
    return text.encode(), keys


EXAMPLES = [
    (b'{"id":1,"updated_at":"2026-11-01T08:50:01-04:00","title":"Analyst"}', ("updated_at",)),
    (b'{"id":1,"meta":{"updated_at":17,"x":[{"updated_at":null}]}}', ("updated_at",)),  # nested
    (rb'{"t":"say \"updated_at\": \"a\"","updated_at":"a\"b\\"}', ("updated_at",)),  # escaped quotes
    (b'{"t":"updated_at","updated_at":true}', ("updated_at",)),  # the key as a value
    (b'{"updated_at":{"at":1},"updated_at" :\n-1.5e+3}', ("updated_at",)),  # an object is kept
    (b'{"updated_at":"cut\\\nshort","updated_at":false}', ("updated_at",)),  # no string ends there
    (b'"updated_at"updated_at":1', ("updated_at",)),  # a candidate inside a candidate
    (b'{"postedOn":"1d","updated_at":2,"x":{"postedOn":null}}', ("updated_at", "postedOn")),
    (rb'{"a\"b":1,"a":2,"\u00fc":3}', ('a"b', "a", "ü")),  # keys written with escapes
]


@pytest.mark.parametrize(("data", "volatile"), EXAMPLES)
def test_the_members_are_cut_as_they_always_were(data: bytes, volatile: tuple[str, ...]) -> None:
    assert first_version(volatile).search(data) is not None  # each example has a member to cut
    assert _volatile_members(volatile).sub(b"", data) == first_version(volatile).sub(b"", data)
    assert bytes_digest(data, volatile) == stored_digest(data, volatile)
    assert bytes_digest(data, volatile) != bytes_digest(data)


@given(soups())
@example((EXAMPLES[2][0] + b'"updated_at": {', ("updated_at",)))
def test_any_bytes_keep_their_stored_digest(case: tuple[bytes, tuple[str, ...]]) -> None:
    data, volatile = case
    event("a member cut" if first_version(volatile).search(data) else "nothing cut")
    assert _volatile_members(volatile).sub(b"", data) == first_version(volatile).sub(b"", data)
    assert bytes_digest(data, volatile) == stored_digest(data, volatile)


@given(documents())
def test_any_json_record_keeps_its_stored_digest_as_bytes_or_as_msgspec_raw(
    case: tuple[bytes, tuple[str, ...]],
) -> None:
    data, volatile = case
    event("a member cut" if first_version(volatile).search(data) else "nothing cut")
    [raw] = msgspec.json.decode(b"[" + data + b"]", type=list[msgspec.Raw])  # as `_take_raw` gets it
    assert bytes_digest(data, volatile) == stored_digest(data, volatile)
    assert bytes_digest(raw, volatile) == stored_digest(data, volatile)


@given(st.lists(soups(), max_size=6))
def test_a_crawl_and_the_next_digest_every_record_as_stored(
    cases: list[tuple[bytes, tuple[str, ...]]],
) -> None:
    """A worker remembers each record's digest by its whole bytes (`StrippedDigests`); what it
    remembers and what it works out afresh are both the digest stored with the posting."""
    for volatile in {volatile for _, volatile in cases}:
        records = [data for data, _ in cases]
        stored = [stored_digest(data, volatile) for data in records]
        first: dict[int, str] = {}
        assert record_digests(records, volatile, {}, first) == stored
        assert first == {hash(data): digest for data, digest in zip(records, stored, strict=True)}
        again: dict[int, str] = {}
        assert record_digests(records, volatile, first, again) == stored and again == first
        assert record_digests(records, volatile) == stored  # nothing remembered: the long way
        assert record_digests(records, (), {}, {}) == [
            hashlib.sha256(data).hexdigest()[:32] for data in records
        ]


def test_a_record_met_again_takes_the_digest_remembered_for_its_bytes() -> None:
    """The whole-record hash is looked up before any member is cut: the fast path is taken."""
    seen, bumped = b'{"id":1,"updated_at":"a"}', b'{"id":1,"updated_at":"b"}'
    remembered = {hash(seen): "remembered"}
    assert record_digests([seen, bumped], ("updated_at",), remembered, {}) == [
        "remembered",
        bytes_digest(bumped, ("updated_at",)),
    ]


def test_a_source_is_remembered_from_its_second_crawl_and_within_the_limit() -> None:
    memory = StrippedDigests(limit=4)
    volatile = ("updated_at",)
    assert memory.remembered("koala", volatile) is None  # a worker's first crawl of it: nothing to gain
    memory.keep("koala", volatile, {})
    assert memory.remembered("koala", volatile) == {}  # crawled once: this crawl's records are kept
    memory.keep("koala", volatile, {1: "d1", 2: "d2", 3: "d3"})
    assert memory.remembered("koala", volatile) == {1: "d1", 2: "d2", 3: "d3"}
    assert memory.remembered("koala", ("postedOn",)) is None  # other volatile keys, other digests
    memory.keep("numbat", volatile, {})
    memory.keep("numbat", volatile, {4: "d4", 5: "d5"})  # 3 + 2 > 4: no room, for good
    assert memory.remembered("numbat", volatile) is None
    memory.keep("koala", volatile, {2: "d2"})  # the latest crawl replaces the last
    assert memory.remembered("koala", volatile) == {2: "d2"}
    memory.keep("numbat", volatile, {4: "d4"})
    assert memory.remembered("numbat", volatile) is None
    memory.keep("wombat", volatile, {})
    memory.keep("wombat", volatile, {6: "d6", 7: "d7", 8: "d8"})
    assert memory.remembered("wombat", volatile) == {6: "d6", 7: "d7", 8: "d8"}


def test_records_split_by_msgspec_are_remembered_by_the_hash_of_their_bytes() -> None:
    """`_take_raw` hands over `msgspec.Raw` records, which are not hashable themselves."""
    records = [b'{"id":1,"updated_at":"a"}', b'{"id":2,"updated_at":"b"}']
    raws = msgspec.json.decode(b"[" + b",".join(records) + b"]", type=list[msgspec.Raw])
    seen: dict[int, str] = {}
    digests = record_digests(raws, ("updated_at",), {}, seen)
    assert seen == {hash(data): digest for data, digest in zip(records, digests, strict=True)}
    assert record_digests(raws, ("updated_at",), {hash(records[1]): "remembered"}, {})[1] == "remembered"


def test_a_worker_keys_its_hashes_at_random_whatever_its_parent_was_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A board must not be able to compute the key a worker remembers its records by."""
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    environment = _child_environment()
    assert environment["PYTHONHASHSEED"] == "random"
    command = [sys.executable, "-c", "print(hash(b'a board record'))"]
    keys = {subprocess.run(command, env=environment, capture_output=True, text=True).stdout for _ in range(2)}
    assert len(keys) == 2 and all(key.strip() for key in keys)


def test_a_page_gives_its_kept_digests_only_for_the_very_body_they_came_from() -> None:
    pages = PageDigests(limit=2)
    koala = ("GreenhouseSpider", "koala", "{}", ("updated_at",), "http://127.0.0.1/v1/boards/koala/jobs")
    body = b'{"jobs": [{"id": 1}, {"id": 2}]}'
    assert pages.unchanged(koala, body) is None  # nothing kept yet
    pages.keep(koala, body, ["d1", "d2"])
    assert pages.unchanged(koala, bytes(bytearray(body))) == ("d1", "d2")  # equal bytes, another object
    assert pages.unchanged(koala, body.replace(b"2", b"3")) is None  # one byte moved
    assert pages.unchanged((*koala[:-1], "http://127.0.0.1/v1/boards/koala/jobs?page=2"), body) is None
    assert pages.unchanged(("LeverSpider", *koala[1:]), body) is None  # another type's page
    pages.keep(koala, body.replace(b"2", b"3"), ["d1", "d3"])  # a page kept again is replaced
    assert pages.unchanged(koala, body) is None
    numbat, wombat = ((*koala[:1], name, *koala[2:]) for name in ("numbat", "wombat"))
    pages.keep(numbat, body, ["n1", "n2"])
    pages.keep(wombat, body, ["w1", "w2"])  # no room: past the limit nothing more is kept
    assert pages.unchanged(numbat, body) == ("n1", "n2") and pages.unchanged(wombat, body) is None
