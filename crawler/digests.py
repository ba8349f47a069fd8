"""Digests of records still in the bytes the board sent, and what a warm worker remembers of them.

A stored posting remembers the digest of the raw record it was parsed from; a re-crawl digests
each record's bytes and normalises only those whose digest no open posting has. That digest
leaves out the members of volatile keys (`updated_at`), so cutting them out (a regex pass over
the record) and hashing what is left is most of an unchanged full-body re-crawl's work.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Final

import msgspec

#: Records whose stripped digests a worker keeps between crawls (`StrippedDigests`), across
#: all sources: ~200 bytes each (measured), so about 20 MB at most; a board of 250 costs ~50 KB.
REMEMBERED_RECORDS: Final = 100_000


def bytes_digest(data: bytes, volatile: tuple[str, ...] = ()) -> str:
    """A digest of a record's raw JSON bytes, every `"key": scalar` member of a volatile key left out.

    In valid JSON a string followed by `:` is always a key (a quote inside a string is escaped),
    so the members left out are exactly those; a volatile key written with escapes, or holding
    an object, stays in, which only costs a normalisation. Left out at any depth: a volatile
    key names board noise (`updated_at`) wherever it sits, and a record whose digest moves
    only by it would normalise to the same posting anyway.
    """
    return record_digests([data], volatile)[0]


@cache
def _volatile_members(volatile: tuple[str, ...]) -> re.Pattern[bytes]:
    r"""The members of the volatile keys a raw digest leaves out: what this pattern's `sub` removes.

    Every stored raw digest was made with what it removes, so that must never change: a digest
    that moved would have every board normalised again. A string is written unrolled
    (`"[^"\\]*(?:\\.[^"\\]*)*"` rather than `"(?:[^"\\]|\\.)*"` as in the first version): the same
    strings, each ending in the one place it can, but a run of plain characters is one step of
    the regex engine instead of one per character, which was most of the `sub`'s cost.
    tests/unit/test_bytes_digest.py holds it to the first version.
    """
    keys = b"|".join(re.escape(json.dumps(key).encode()) for key in volatile)
    scalar = rb'"[^"\\]*(?:\\.[^"\\]*)*"|-?[0-9][0-9.eE+-]*|true|false|null'
    return re.compile(rb"(?:" + keys + rb")[ \t\n\r]*:[ \t\n\r]*(?:" + scalar + rb")")


#: A source and the volatile keys its digests leave out.
_Key = tuple[str, tuple[str, ...]]

#: Records as a crawl digested them: `hash()` of the whole record's bytes → its `bytes_digest`.
RecordDigests = dict[int, str]


class StrippedDigests:
    """`bytes_digest(data, volatile)` of a source's records, remembered from its last crawl by the
    interpreter's own hash of the whole record (`hash(bytes)`), volatile members included.

    Most records of a re-crawl are the very bytes the last crawl read: their whole-record hash
    finds the digest without the regex pass that cuts the volatile members out and the SHA-256
    of what is left (0.6 against 2.2 µs a record; the key was a SHA-256 of the whole record
    before, 1.3 µs). `hash(bytes)` is SipHash-1-3 under a 128-bit key the interpreter draws at
    random as it starts, which the worker always does (`crawler.workers` sets
    PYTHONHASHSEED=random for it): a board cannot compute the key of a record, so it cannot
    steer one record onto another's digest, and two records of a source meet by chance on a
    64-bit key about once in 10^16 lookups. Even then, the record would count as a sighting of
    the board's own posting whose digest was taken: the board's word about itself, never another
    source's (each source is remembered apart).

    One per worker process (`STRIPPED`), remembering each source's records of its latest crawl
    only (`keep` replaces them). Remembering costs a hash a record, so it starts with a source's
    second crawl in the process: a worker started for one crawl (`rolewatch crawl`) never pays
    for it. At most `limit` records across sources: a source with no room left is digested
    the long way, as without this, until the worker retires.
    """

    def __init__(self, limit: int = REMEMBERED_RECORDS) -> None:
        self.limit = limit
        self._digests: dict[_Key, RecordDigests] = {}
        self._crawled: set[_Key] = set()
        self._no_room: set[_Key] = set()
        self._held = 0

    def remembered(self, source: str, volatile: tuple[str, ...]) -> RecordDigests | None:
        """The source's records from its last crawl (whole-record hash → digest); None when
        they are not to be remembered (its first crawl here, or no room)."""
        key = (source, volatile)
        if key not in self._crawled or key in self._no_room:
            return None
        return self._digests.get(key, {})

    def keep(self, source: str, volatile: tuple[str, ...], seen: RecordDigests) -> None:
        """Remember `seen` (this crawl's records) in place of the source's last, room permitting."""
        key = (source, volatile)
        if key not in self._crawled:
            self._crawled.add(key)
            return
        if key in self._no_room:
            return
        self._held -= len(self._digests.pop(key, {}))
        if self._held + len(seen) > self.limit:
            self._no_room.add(key)
        elif seen:
            self._digests[key] = seen
            self._held += len(seen)


def record_digests(
    records: Sequence[bytes | msgspec.Raw],
    volatile: tuple[str, ...],
    remembered: Mapping[int, str] | None = None,
    seen: RecordDigests | None = None,
) -> list[str]:
    """`bytes_digest(record, volatile)` of each record, in one tight loop: this is most of an
    unchanged full-body re-crawl's work. Given what `StrippedDigests.remembered` returned (not
    None), each record is looked up there by its whole-record hash first, and every record
    goes into `seen`, for `StrippedDigests.keep`."""
    sha256 = hashlib.sha256
    if not volatile:
        return [sha256(data).hexdigest()[:32] for data in records]
    strip = _volatile_members(volatile).sub
    if remembered is None or seen is None:
        return [sha256(strip(b"", data)).hexdigest()[:32] for data in records]
    digests: list[str] = []
    append = digests.append
    for data in records:
        whole = hash(bytes(data))  # a msgspec.Raw is not hashable; a bytes object is not copied
        digest = remembered.get(whole)
        if digest is None:
            digest = sha256(strip(b"", data)).hexdigest()[:32]
        seen[whole] = digest
        append(digest)
    return digests


#: The worker's own: a process crawls batch after batch, and each source's records are
#: remembered from one crawl of it to the next.
STRIPPED: Final = StrippedDigests()

#: Pages whose records' digests a worker keeps between crawls (`PageDigests`): ~2 KB each.
REMEMBERED_PAGES: Final = 20_000

#: What names a page: the spider's type, the source, its options as JSON, the volatile keys and the URL.
PageKey = tuple[str, str, str, tuple[str, ...], str]


class PageDigests:
    """Each page's record digests at its last crawl, by the interpreter's hash of the whole body.

    Most pages of an unchanged full-body re-crawl are the very bytes the last crawl read: a body
    whose hash is the one kept for its page has the same records, so the same digests, without
    msgspec's split and the per-record pass (about a sixth of such a crawl's work in the worker).
    The hash is SipHash under the worker's random key, as `StrippedDigests`' is: a board cannot
    make another body meet its page's. A page is kept only for a source `STRIPPED` remembers,
    and at most `limit` pages: a worker started for one crawl never pays for the hashing.
    """

    def __init__(self, limit: int = REMEMBERED_PAGES) -> None:
        self.limit = limit
        self._pages: dict[PageKey, tuple[int, tuple[str, ...]]] = {}

    def unchanged(self, page: PageKey, body: bytes) -> tuple[str, ...] | None:
        """The digests kept for `page` if `body` is the body they were taken from, else None."""
        kept = self._pages.get(page)
        if kept is None or kept[0] != hash(body):
            return None
        return kept[1]

    def keep(self, page: PageKey, body: bytes, digests: Sequence[str]) -> None:
        """Remember the digests of `body`'s records for `page`, room permitting."""
        if page in self._pages or len(self._pages) < self.limit:
            self._pages[page] = (hash(body), tuple(digests))


#: The worker's own, beside `STRIPPED`.
PAGES: Final = PageDigests()
