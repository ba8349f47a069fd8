"""The base spider: one instance crawls every source of one type, with accounting and a verdict per source.

A source type subclasses `BoardSpider` and writes only the board-specific part:

    class GreenhouseSpider(BoardSpider[Options]):
        name = "greenhouse"
        conditional = True                     # one request is the whole listing

        def start_requests_for(self, board):   # the listing's first request(s)
            yield json_request(f"{board.base_url(API)}/v1/boards/{board.options.board}/jobs?content=true")

        def parse_listing(self, response, board):  # raw records and follow-up page Requests
            yield from list_at(json_of(response), "jobs")

        def to_posting(self, record, board):   # one raw record -> Posting (or None to skip it)
            return Posting(source=board.name, external_id=str(record["id"]), title=...)

The listing has reached its natural end when `parse_listing` stops asking for pages. It raises
`ListingError` when a response is not this board's listing, and `ListingTruncated` when the
listing goes on beyond what can be read (a page cap); `to_posting` raises `PostingError` (or
anything else) for a record it cannot use, which skips that record only. Page state travels in
`Request.meta`. A board with a detail request per posting asks `is_unchanged` before making one
(an unchanged record is only sighted) and returns the list record from `salvage` when it fails.
Everything else is here: per-source requests, retries, bytes, errors and time limits, the
conditional-request validators, and the verdict.
"""

from __future__ import annotations

import gc
import hashlib
import json
import logging
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any, ClassVar, Final, Generic, TypeVar

import msgspec
import scrapy
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.spidermiddlewares.httperror import HttpError
from scrapy.utils.asyncio import CallLaterResult, call_later
from twisted.python.failure import Failure

from crawler.digests import PAGES, STRIPPED, PageKey, RecordDigests, record_digests
from crawler.middlewares import (
    META_BACKOFF,
    META_CONDITIONAL,
    META_DEADLINE,
    META_EXPIRED,
    META_GAVE_UP,
    META_HOSTS,
    META_MAX_RETRY_AFTER,
    META_VALIDATORS_SEEN,
)
from crawler.normalize.text import clean_text
from crawler.trust import HostPolicy
from crawler.verdict import decide_verdict, summarize_errors
from rolewatch.config import ResolvedSource, SourceOptions, format_duration
from rolewatch.domain import CrawlResult, CrawlStats, CrawlVerdict, KnownDigests, Posting

logger = logging.getLogger(__name__)

OptionsT = TypeVar("OptionsT", bound=SourceOptions)
Validators = Mapping[str, Mapping[str, Mapping[str, str]]]

#: Bytes of responses read between two full garbage collections (see `BoardSpider._reclaim`).
RECLAIM_EVERY = 32 * 2**20
#: Request meta key naming the source a request belongs to.
META_SOURCE = "rolewatch_source"
NOT_MODIFIED = "not modified since the last crawl"
_CUT_SHORT = "the connection closed before the whole response arrived"

#: The most characters of a URL an error quotes (a next link is board content, and may be huge).
URL_LIMIT = 200
#: The most characters of an error's detail (what went wrong with the URL), body snippets included.
DETAIL_LIMIT = 240
#: The most characters of a response body an error quotes.
SNIPPET_LIMIT = 120
#: The most characters of any one error; the two above, and room for the words around them.
ERROR_LIMIT = URL_LIMIT + DETAIL_LIMIT + 80

#: False while a redirected response is read: its body came from elsewhere than the request went,
#: so errors say what kind of thing it was, never what it said.
_QUOTE_BODY: ContextVar[bool] = ContextVar("rolewatch_quote_body", default=True)


class ListingError(Exception):
    """The response is not this board's listing: an HTML maintenance page, JSON of another shape."""


class PostingError(Exception):
    """A record that cannot become a posting (no title, say); it is skipped and recorded as an error."""


class ListingTruncated(Exception):
    """The listing goes on beyond what can be read (a page cap); what was read so far is kept."""


@dataclass(frozen=True)
class Board(Generic[OptionsT]):
    """What a spider subclass sees of one source: its name, its type's options, its settings."""

    name: str
    options: OptionsT
    config: ResolvedSource

    def base_url(self, default: str) -> str:
        """The service's root: the `base_url` option (mirror, EU host, test server) or `default`."""
        return (self.options.base_url or default).rstrip("/")


@dataclass
class _Ledger:
    """One source's accounting during a crawl; closing it yields the source's CrawlResult."""

    board: Board[Any]
    validators_in: Mapping[str, Mapping[str, str]]
    started_at: datetime
    started: float
    deadline: float
    requests: int = 0
    responses: int = 0
    bytes: int = 0
    pages: int = 0
    retries: int = 0
    not_modified: int = 0
    pending: int = 0
    errors: list[str] = field(default_factory=list)
    postings: dict[str, Posting] = field(default_factory=dict)
    validators_out: dict[str, dict[str, str]] = field(default_factory=dict)
    known: Mapping[str, str] = field(default_factory=dict)
    sightings: set[str] = field(default_factory=set)
    #: `known` the other way round (digest -> external id), built on first use by `_take_raw`.
    known_digests: dict[str, str] | None = None
    #: The records `_take_raw` digested: whole-record hash → digest (`crawler.digests.STRIPPED`).
    seen_records: RecordDigests = field(default_factory=dict)
    #: The board's options as JSON, for its pages' keys in `crawler.digests.PAGES`; made on first use.
    options_json: str | None = None
    timer: CallLaterResult | None = None
    result: CrawlResult | None = None
    closes_by_absence: bool = True
    max_age: timedelta | None = None
    hosts: HostPolicy = field(default_factory=lambda: HostPolicy(frozenset()))

    @property
    def done(self) -> bool:
        return self.result is not None

    def add(self, posting: Posting) -> None:
        """Keep the first sighting: a listing that shifts while being paged repeats postings."""
        if posting.source != self.board.name:
            posting = replace(posting, source=self.board.name)
        self.postings.setdefault(posting.external_id, posting)

    def close(self) -> CrawlResult:
        # In no particular order: the diff reads them as a set.
        only_sighted = tuple(self.sightings.difference(self.postings))
        items = len(self.postings) + len(only_sighted)
        verdict = decide_verdict(items=items, errors=self.errors)
        unchanged = verdict is CrawlVerdict.COMPLETE and self.not_modified > 0 and self.pages == 0
        stats = CrawlStats(
            requests=self.requests,
            responses=self.responses,
            bytes=self.bytes,
            pages=self.pages,
            items=items,
            retries=self.retries,
            not_modified=self.not_modified,
            duration_s=round(time.monotonic() - self.started, 3),
            errors=tuple(self.errors),
        )
        self.errors[:] = [quoted(error, ERROR_LIMIT) for error in self.errors]
        stats = replace(stats, errors=tuple(self.errors))
        self.result = CrawlResult(
            source=self.board.name,
            verdict=verdict,
            started_at=self.started_at,
            finished_at=datetime.now(UTC),
            postings=tuple(self.postings.values()),
            stats=stats,
            reason=summarize_errors(self.errors) or (NOT_MODIFIED if unchanged else ""),
            unchanged=unchanged,
            validators=self.validators_out,
            sightings=only_sighted,
            closes_by_absence=self.closes_by_absence,
            max_age=self.max_age,
        )
        return self.result


class BoardSpider(scrapy.Spider, Generic[OptionsT]):
    """Crawls every source of one type in one crawl, so they share the per-host politeness.

    Each request carries its source in meta; each source has its own ledger, deadline and
    verdict, and its result is emitted the moment its last request is settled.
    """

    #: True when one request is the whole listing, so the server's ETag/Last-Modified can vouch for
    #: all of it and a 304 means "unchanged". Paged listings cannot use validators page by page.
    conditional: ClassVar[bool] = False
    #: Raw-record keys that change without the posting changing (a bulk-bumped `updated_at`);
    #: left out of the raw digest so they do not force a record to be normalised again.
    volatile_fields: ClassVar[tuple[str, ...]] = ()
    #: False when the listing is only a window onto the board (a feed keeping its newest N
    #: items): a posting missing from it may just have scrolled out, so absence must not close
    #: it; the diff closes it only after `absence_max_age` unseen.
    closes_by_absence: ClassVar[bool] = True

    def __init__(
        self,
        sources: Sequence[ResolvedSource] = (),
        validators: Validators | None = None,
        emit: Callable[[CrawlResult], None] | None = None,
        known: Mapping[str, Mapping[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._known = known or {}
        #: Every finished source's result; without its postings once `emit` has had them.
        self.results: list[CrawlResult] = []
        self._sources = list(sources)
        self._validators = validators or {}
        self._emit = emit
        self._ledgers: dict[str, _Ledger] = {}
        #: Bytes of responses read since the last full garbage collection (`_reclaim`).
        self._unreclaimed = 0

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> BoardSpider[OptionsT]:
        spider = super().from_crawler(crawler, *args, **kwargs)
        for handler, signal in (
            (spider._on_request_reached_downloader, signals.request_reached_downloader),
            (spider._on_response_downloaded, signals.response_downloaded),
            (spider._on_request_dropped, signals.request_dropped),
            (spider._on_spider_error, signals.spider_error),
            (spider._on_idle, signals.spider_idle),
            (spider._on_closed, signals.spider_closed),
        ):
            crawler.signals.connect(handler, signal=signal)
        return spider

    # --- the subclass's part -------------------------------------------------------------------

    def start_requests_for(self, board: Board[OptionsT]) -> Iterable[Request]:
        """The first request(s) of one source's listing."""
        raise NotImplementedError

    def parse_listing(self, response: Response, board: Board[OptionsT]) -> Iterable[Any]:
        """Raw posting records (each handed to `to_posting`) and follow-up page `Request`s."""
        raise NotImplementedError

    def to_posting(self, record: Any, board: Board[OptionsT]) -> Posting | None:
        """One raw record as a normalised Posting; None skips a record that is not a posting."""
        raise NotImplementedError

    def absence_max_age(self, board: Board[OptionsT]) -> timedelta | None:
        """For a window listing (`closes_by_absence = False`): how long unseen before a posting closes."""
        return None

    # --- starting ------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        """Every source's first requests, all adopted before any is sent so none finishes early."""
        first: list[Request] = []
        for source in self._sources:
            first.extend(self._open(source))
        for ledger in list(self._ledgers.values()):
            self._settle(ledger)
        for request in first:
            yield request

    def _open(self, source: ResolvedSource) -> list[Request]:
        board: Board[OptionsT] = Board(source.name, source.options, source)  # type: ignore[arg-type]
        now = time.monotonic()
        timeout = source.timeout.total_seconds()
        ledger = _Ledger(
            board=board,
            validators_in=self._validators.get(source.name, {}),
            known=self._known.get(source.name, {}),
            started_at=datetime.now(UTC),
            started=now,
            deadline=now + timeout,
            closes_by_absence=self.closes_by_absence,
            max_age=None if self.closes_by_absence else self.absence_max_age(board),
        )
        self._ledgers[source.name] = ledger
        ledger.timer = call_later(timeout, self._expire, ledger)
        try:
            requests = list(self.start_requests_for(board))
        except Exception as exc:
            logger.warning("%s: could not build the listing request", source.name, exc_info=True)
            ledger.errors.append(f"could not build the listing request: {_describe_exception(exc)}")
            return []
        if not requests:
            ledger.errors.append("the spider made no listing request")
        options = source.options
        urls = [*options.configured_urls(), *(request.url for request in requests)]
        ledger.hosts = HostPolicy.of(urls, options.allowed_hosts)
        return [self._adopt(request, ledger) for request in requests]

    def _adopt(self, request: Request, ledger: _Ledger) -> Request:
        """Tie a request to its source: callbacks, per-source limits and validators go in."""
        politeness = ledger.board.config.politeness
        meta: dict[str, Any] = {
            **request.meta,
            META_SOURCE: ledger.board.name,
            META_DEADLINE: ledger.deadline,
            META_MAX_RETRY_AFTER: politeness.max_retry_after.total_seconds(),
            META_BACKOFF: politeness.delay.total_seconds(),
            "max_retry_times": politeness.retries,
            "download_timeout": politeness.request_timeout.total_seconds(),
            "download_maxsize": politeness.max_response_size,
            META_HOSTS: ledger.hosts,
        }
        if self.conditional and politeness.conditional_requests:
            meta[META_CONDITIONAL] = dict(ledger.validators_in.get(request.url, {}))
        ledger.pending += 1
        return request.replace(
            callback=self._on_response, errback=self._on_failure, dont_filter=True, meta=meta, cb_kwargs={}
        )

    # --- responses and failures ----------------------------------------------------------------

    def _on_response(self, response: Response) -> list[Request]:
        ledger = self._ledger_of(response.request)
        if ledger is None or ledger.done:
            return []
        follow: list[Request] = []
        try:
            follow = self._read(response, ledger)
        except Exception as exc:  # a bug here must cost one source, never the others
            logger.exception("%s: reading %s failed", ledger.board.name, shown_url(response.url))
            ledger.errors.append(f"{_label(response.request)}: {_describe_exception(exc)}")
        ledger.pending -= 1
        self._settle(ledger)
        self._reclaim(len(response.body))
        return follow

    def _reclaim(self, read: int) -> None:
        """Run a full garbage collection after every RECLAIM_EVERY bytes of responses.

        Scrapy leaves each response in reference cycles, which only the cycle collector frees,
        and the collector runs by counts of allocations. An unchanged re-crawl allocates almost
        nothing per record (`_take_raw`), so without this every body read stayed in memory
        until the batch ended: 300 MB for 200,000 postings. The worker froze its start-up
        objects (`crawler.child`), so a collection walks only the batch's own and costs little.
        """
        self._unreclaimed += read
        if self._unreclaimed >= RECLAIM_EVERY:
            self._unreclaimed = 0
            gc.collect()

    def _read(self, response: Response, ledger: _Ledger) -> list[Request]:
        request = response.request
        assert request is not None
        if response.status == 304:
            ledger.not_modified += 1
            self._keep_validators(request, ledger)
            return []
        ledger.pages += 1
        errors_before = len(ledger.errors)
        follow: list[Request] = []
        if "dataloss" in response.flags:  # a body cut short on the last attempt: kept, never complete
            read = f"{len(response.body):,} bytes that did were read"
            ledger.errors.append(f"{_label(request)}: {_CUT_SHORT}; the {read}")
        with _quoting(not request.meta.get("redirect_urls")):
            try:
                page = self._page_key(response, ledger)
                if page is not None and self._sight_unchanged(page, response.body, ledger):
                    listing: Iterable[Any] = ()
                else:
                    listing = self.parse_listing(response, ledger.board)
                if isinstance(listing, RawRecords):
                    digests = self._take_raw(listing, request, ledger)
                    if page is not None:
                        PAGES.keep(page, response.body, digests)
                    listing = ()
                for output in listing:
                    if isinstance(output, Request):
                        follow.append(self._adopt(output, ledger))
                    elif isinstance(output, RawRecord):
                        self._take_raw(RawRecords([output.data]), request, ledger)
                    else:
                        self._take(output, request, ledger)
            except ListingTruncated as exc:
                ledger.errors.append(f"{_label(request)}: listing truncated: {_describe_exception(exc)}")
            except ListingError as exc:
                ledger.errors.append(f"{_label(request)}: {_describe_exception(exc)}")
            except Exception as exc:
                logger.warning(
                    "%s: could not read %s", ledger.board.name, shown_url(response.url), exc_info=True
                )
                ledger.errors.append(
                    f"{_label(request)}: could not read the listing: {_describe_exception(exc)}"
                )
        if len(ledger.errors) == errors_before:
            self._keep_validators(request, ledger)  # only a page read cleanly vouches for its validators
        return follow

    def record_id(self, record: Any) -> str | None:
        """The board's id of a raw record, before normalising; None when it cannot be told."""
        if isinstance(record, Mapping) and record.get("id") is not None:
            return str(record["id"])
        return None

    def is_unchanged(self, board: Board[OptionsT], record: Any) -> bool:
        """True when `record` is byte-identical (volatile fields aside) to the one its stored open
        posting was parsed from; the record then counts as sighted, so the posting stays open.

        For boards that need a detail request per posting: an unchanged list record lets
        `parse_listing` skip that request, which is most of a re-crawl's cost.
        """
        ledger = self._ledgers.get(board.name)
        record_id = self.record_id(record)
        if ledger is None or record_id is None or record_id not in ledger.known:
            return False
        if ledger.known[record_id] != raw_digest(record, self.volatile_fields):
            return False
        ledger.sightings.add(record_id)
        return True

    def salvage(self, request: Request, board: Board[OptionsT]) -> Iterable[Any]:
        """Raw records worth keeping when `request` failed for good (its error is recorded anyway).

        A board with a detail request per posting returns the list-level record behind a failed
        detail request, so one failed detail costs that posting's details, not the posting.
        """
        return ()

    def _page_key(self, response: Response, ledger: _Ledger) -> PageKey | None:
        """What names this response's page in `PAGES`, for a source whose records `STRIPPED`
        remembers; else None (a worker's first crawl of it, or no room), and nothing is kept."""
        volatile = self.volatile_fields
        if STRIPPED.remembered(ledger.board.name, volatile) is None:
            return None
        if ledger.options_json is None:
            ledger.options_json = ledger.board.options.model_dump_json()
        return (type(self).__qualname__, ledger.board.name, ledger.options_json, volatile, response.url)

    def _sight_unchanged(self, page: PageKey, body: bytes, ledger: _Ledger) -> bool:
        """Sight every record of a page whose body is the one its kept digests came from, when
        each of them names a stored open posting; else False, and the page is read as usual.

        The same body splits into the same records (a listing read as `RawRecords` is the body's
        alone), so this is what `_take_raw` would do with it, without the split and the per-record
        pass. A record no open posting was parsed from (one skipped last time, say) is read again.
        """
        digests = PAGES.unchanged(page, body)
        if digests is None:
            return False
        known = _known_digests(ledger)
        if not all(map(known.__contains__, digests)):
            return False
        ledger.sightings.update(map(known.__getitem__, digests))
        remembered = STRIPPED.remembered(ledger.board.name, self.volatile_fields)
        if remembered:
            ledger.seen_records.update(remembered)  # so they are remembered for the next crawl
        return True

    def _take_raw(self, records: RawRecords, request: Request, ledger: _Ledger) -> list[str]:
        """Records still in the bytes the board sent: digest each one's bytes, and decode and
        normalise it only when no stored open posting was parsed from the same bytes (volatile
        fields aside).

        The digest covers the whole record, its id included, so a match names the posting it was
        parsed from: that posting is sighted without a single Python object made for it. This
        loop is most of an unchanged full-body re-crawl's work, so it is kept tight.
        """
        known, sighted = _known_digests(ledger), ledger.sightings.add
        volatile = self.volatile_fields
        remembered = STRIPPED.remembered(ledger.board.name, volatile)
        digests = record_digests(records.data, volatile, remembered, ledger.seen_records)
        for data, digest in zip(records.data, digests, strict=True):
            external_id = known.get(digest)
            if external_id is None:
                self._take(decode_record(data), request, ledger, digest)
            else:
                sighted(external_id)
        return digests

    def _take(self, record: Any, request: Request, ledger: _Ledger, digest: str | None = None) -> None:
        """Normalise one record; a record that fails is skipped and recorded, the others are kept.

        A record byte-identical (volatile fields aside) to the one its stored open posting was
        parsed from is only a sighting: normalising it again could not change anything.
        `digest` is given for a record that came as bytes (`_take_raw` has compared it already).
        """
        if digest is None:
            digest = raw_digest(record, self.volatile_fields)
            record_id = self.record_id(record)
            if record_id is not None and ledger.known.get(record_id) == digest:
                ledger.sightings.add(record_id)
                return
        try:
            posting = self._normalised(record, ledger.board)
        except Exception as exc:
            is_bug = not isinstance(exc, PostingError | KeyError)
            logger.warning("%s: posting %s skipped", ledger.board.name, _record_id(record), exc_info=is_bug)
            ledger.errors.append(
                f"{_label(request)}: posting {_record_id(record)} skipped: {_describe_exception(exc)}"
            )
            return
        if posting is not None:
            ledger.add(_with_digest(posting, digest))

    def _normalised(self, record: Any, board: Board[OptionsT]) -> Posting | None:
        """`to_posting(record)`; a record holding half a surrogate pair (a JSON escape such as
        `\\ud800`, which no UTF-8 text can hold) is normalised with U+FFFD in its place."""
        try:
            return self.to_posting(record, board)
        except UnicodeEncodeError:
            return self.to_posting(_without_surrogates(record), board)

    def _keep_validators(self, request: Request, ledger: _Ledger) -> None:
        seen = request.meta.get(META_VALIDATORS_SEEN)
        if seen:
            first_url = request.meta.get("redirect_urls", [request.url])[0]
            ledger.validators_out[first_url] = dict(seen)

    def _on_failure(self, failure: Failure) -> list[Request]:
        request: Request = failure.request  # type: ignore[attr-defined]
        ledger = self._ledger_of(request)
        if ledger is None or ledger.done:
            return []
        if request.meta.get(META_EXPIRED):
            self._expire(ledger)
            return []
        ledger.errors.append(describe_failure(failure, request))
        self._salvage(request, ledger)
        ledger.pending -= 1
        self._settle(ledger)
        return []

    def _salvage(self, request: Request, ledger: _Ledger) -> None:
        """Keep what the subclass can still make of a failed request; a bug here costs only that."""
        try:
            for record in self.salvage(request, ledger.board):
                self._take(record, request, ledger)
        except Exception as exc:
            logger.warning(
                "%s: could not salvage %s", ledger.board.name, shown_url(request.url), exc_info=True
            )
            ledger.errors.append(f"{_label(request)}: could not keep its posting: {_describe_exception(exc)}")

    # --- finishing -----------------------------------------------------------------------------

    def _settle(self, ledger: _Ledger) -> None:
        if ledger.pending <= 0 and not ledger.done:
            self._finish(ledger)

    def _expire(self, ledger: _Ledger) -> None:
        if ledger.done:
            return
        timeout = format_duration(ledger.board.config.timeout)
        ledger.errors.append(f"timed out after {timeout} with {ledger.pending} request(s) unfinished")
        self._finish(ledger)

    def _finish(self, ledger: _Ledger) -> None:
        if ledger.timer is not None:
            ledger.timer.cancel()
        result = ledger.close()
        if self.volatile_fields and ledger.pages:
            # A crawl that read no page (304s, or it failed) saw no record: the records remembered
            # from the last crawl that read one stay, as digests of their bytes they are still right.
            STRIPPED.keep(ledger.board.name, self.volatile_fields, ledger.seen_records)
        if self._emit is None:
            self.results.append(result)
            return
        try:
            self._emit(result)
        except Exception:
            logger.exception("%s: could not hand the result over", ledger.board.name)
        # The postings now belong to the receiver: a batch holds tens of thousands of them, and
        # keeping every finished source's here too would make the crawl's memory grow with it.
        ledger.postings.clear()
        ledger.result = replace(result, postings=())
        self.results.append(ledger.result)

    def _ledger_of(self, request: Request | None) -> _Ledger | None:
        if request is None:
            return None
        return self._ledgers.get(request.meta.get(META_SOURCE, ""))

    # --- signals: per-source counts and the safety nets ----------------------------------------

    def _on_request_reached_downloader(self, request: Request, spider: scrapy.Spider) -> None:
        ledger = self._ledger_of(request)
        if ledger is not None:
            ledger.requests += 1
            ledger.retries += 1 if request.meta.get("retry_times", 0) else 0

    def _on_response_downloaded(self, response: Response, request: Request, spider: scrapy.Spider) -> None:
        ledger = self._ledger_of(request)
        if ledger is not None:
            ledger.responses += 1
            ledger.bytes += len(response.body)

    def _on_request_dropped(self, request: Request, spider: scrapy.Spider) -> None:
        ledger = self._ledger_of(request)
        if ledger is not None and not ledger.done:
            ledger.errors.append(f"{_label(request)}: dropped by the scheduler")
            ledger.pending -= 1
            self._settle(ledger)

    def _on_spider_error(self, failure: Failure, response: Response, spider: scrapy.Spider) -> None:
        ledger = self._ledger_of(getattr(response, "request", None))
        if ledger is not None and not ledger.done:
            ledger.errors.append(f"{_label(response.request)}: {_describe_exception(failure.value)}")

    def _on_idle(self, spider: scrapy.Spider) -> None:
        """Nothing left to do: a source still open here lost track of a request, so say so."""
        for ledger in self._ledgers.values():
            if not ledger.done:
                ledger.errors.append(f"the crawl went idle with {ledger.pending} request(s) unaccounted for")
                self._finish(ledger)

    def _on_closed(self, spider: scrapy.Spider, reason: str) -> None:
        for ledger in self._ledgers.values():
            if not ledger.done:
                ledger.errors.append(f"the crawl stopped early ({reason})")
                self._finish(ledger)


# --- helpers for subclasses ------------------------------------------------------------------------


def json_request(url: str, **kwargs: Any) -> Request:
    """A request to a JSON API that says so (Scrapy's default Accept asks for HTML first)."""
    headers = {"Accept": "application/json", **kwargs.pop("headers", {})}
    return Request(url, headers=headers, **kwargs)


def json_of(response: Response) -> Any:
    """The body as JSON, or a ListingError that says what came instead (an HTML page, a cut-off body)."""
    raw_type = response.headers.get(b"Content-Type") or b""
    content_type = raw_type.decode("latin-1").split(";")[0].strip().lower()
    try:
        return json.loads(response.body)
    except (ValueError, UnicodeDecodeError) as exc:
        if not response.body.strip():
            raise ListingError("response is not JSON (the body is empty)") from None
        if "html" in content_type or response.body.lstrip()[:1] == b"<":
            raise ListingError(
                f"response is not JSON ({content_type or 'markup'}: a maintenance or error page?)"
            ) from None
        raise ListingError(f"response is not JSON ({exc}; truncated?)") from None


def list_at(data: Any, key: str) -> list[Any]:
    """`data[key]` when it is a list, else a ListingError naming the missing key."""
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, list):
        raise ListingError(f'JSON has no "{key}" list (got {_brief(data)})')
    return value


@dataclass(frozen=True, slots=True)
class RawRecord:
    """One record of a JSON listing, still the bytes the board sent (see `raw_list_at`)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class RawRecords:
    """Every record of a JSON listing, each still the bytes the board sent (see `raw_list_at`).

    `parse_listing` returns it whole; the spider digests the records in one tight loop.
    Iterating it gives a `RawRecord` per record.
    """

    data: Sequence[bytes | msgspec.Raw]

    def __iter__(self) -> Iterator[RawRecord]:
        return (RawRecord(bytes(raw)) for raw in self.data)

    def __len__(self) -> int:
        return len(self.data)


def raw_list_at(response: Response, key: str) -> RawRecords | list[Any]:
    """The records of the body's `{key: [...]}` list as `RawRecord`s, else what `list_at(json_of(…))` reads.

    The whole body is read as strict UTF-8 JSON (msgspec, in C), and each record is kept as its
    own bytes: the spider digests those and decodes only the records whose digest it does not
    know, so an unchanged record costs a hash, not a parse into Python objects, a re-encoding
    and a normalisation. A body msgspec will not split that way (not UTF-8, a BOM, `NaN`, a
    lone surrogate, no such list) is read by the standard path instead, which says what is
    wrong with it exactly as before, or reads what the standard library accepts.
    """
    body = response.body
    try:
        if not body.isascii():
            body.decode("utf-8")  # msgspec does not check the UTF-8 of what it leaves raw
        found = _raw_list_decoder(key).decode(body).records
    except (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError):
        return list_at(json_of(response), key)
    return RawRecords(found)


def _known_digests(ledger: _Ledger) -> dict[str, str]:
    """The ledger's stored open postings by the digest of their raw record, built on first use."""
    if ledger.known_digests is None:
        ledger.known_digests = by_digest(ledger.known)
    return ledger.known_digests


def decode_record(data: bytes | msgspec.Raw) -> Any:
    """One raw record (`RawRecords`) as Python objects, as `json.loads` reads it.

    msgspec reads it in C, three times faster than the standard library (a first crawl decodes
    every record); what msgspec refuses but the standard library reads (a number beyond a float's
    range, which it makes `inf`) is read by the standard library, so a record reads the same
    either way.
    """
    try:
        return _RECORD.decode(data)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return json.loads(bytes(data))


_RECORD: Final = msgspec.json.Decoder()


def required_text(record: Mapping[str, Any], key: str) -> str:
    """A field no posting can do without (its title), whitespace-normalised; missing or blank raises."""
    value = record.get(key)
    text = clean_text(value) if isinstance(value, str) else ""
    if not text:
        raise PostingError(f"{key!r} is missing or blank")
    return text


def json_array(data: Any) -> list[Any]:
    """`data` when it is a JSON array, else a ListingError showing what came instead."""
    if not isinstance(data, list):
        raise ListingError(f"expected a JSON array of postings, got {_brief(data)}")
    return data


def describe_failure(failure: Failure, request: Request) -> str:
    """A failed request as a person would put it: `GET http://…/jobs: HTTP 500 after 3 retries`."""
    exc = failure.value
    retries = int(request.meta.get("retry_times", 0))
    after = f" after {retries} {'retry' if retries == 1 else 'retries'}" if retries else ""
    gave_up = request.meta.get(META_GAVE_UP)
    note = f" ({gave_up})" if gave_up else ""
    return f"{_label(request)}: {quoted(_failure_text(exc, request), DETAIL_LIMIT)}{after}{note}"


def _failure_text(exc: BaseException | None, request: Request) -> str:
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, DownloadTimeoutError):
        return f"timed out after {float(request.meta.get('download_timeout', 0)):g}s"
    if isinstance(exc, DownloadCancelledError) and "max size" in str(exc):
        return f"response larger than the {_size(int(request.meta.get('download_maxsize', 0)))} limit"
    if isinstance(exc, CannotResolveHostError):
        return "could not resolve the host"
    if isinstance(exc, DownloadConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ResponseDataLossError):
        return _CUT_SHORT
    if isinstance(exc, IgnoreRequest):
        return str(exc)[:1].lower() + str(exc)[1:] if str(exc) else "request ignored"
    return _describe_exception(exc)


def _describe_exception(exc: BaseException | None) -> str:
    """The exception as an error's detail: short and free of control characters, as it may quote the board."""
    return quoted(_exception_text(exc), DETAIL_LIMIT)


def _exception_text(exc: BaseException | None) -> str:
    if exc is None:
        return "unknown error"
    if isinstance(exc, KeyError) and exc.args:
        return f"missing field {exc.args[0]!r}"
    if isinstance(exc, PostingError | ListingError | ListingTruncated):
        return str(exc)
    text = str(exc)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def by_digest(known: Mapping[str, str]) -> dict[str, str]:
    """`known` (external id → digest) the other way round; a `KnownDigests` builds it from its arrays."""
    if isinstance(known, KnownDigests):
        return known.by_digest()
    return {digest: external_id for external_id, digest in known.items()}


def raw_digest(record: Any, volatile: tuple[str, ...] = ()) -> str:
    """A digest of a raw record with its volatile keys left out; key order does not matter."""
    if isinstance(record, Mapping) and volatile:
        record = {key: value for key, value in record.items() if key not in volatile}
    text = _RAW_JSON.encode(record)
    # `surrogatepass`: a JSON escape may name half a surrogate pair, which UTF-8 cannot hold; its
    # record must still get a digest, so that it costs its own posting, not the rest of the page.
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


#: What `json.dumps(..., sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)`
#: builds on every call, built once: every record of every crawl is digested.
_RAW_JSON: Final = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)


def _without_surrogates(value: Any) -> Any:
    """`value` (a record decoded from JSON) with each half of a surrogate pair in its text as U+FFFD."""
    if isinstance(value, str):
        return _SURROGATES.sub("\ufffd", value)
    if isinstance(value, Mapping):
        return {_without_surrogates(key): _without_surrogates(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_without_surrogates(item) for item in value]
    return value


_SURROGATES: Final = re.compile("[\ud800-\udfff]")


def _with_digest(posting: Posting, digest: str) -> Posting:
    """`replace(posting, raw_digest=digest)` without running `__init__` and `__post_init__` again
    (a sixth of a first crawl's normalising): a copy of its fields, the digest changed. The
    fingerprint does not depend on the digest, so the copy's stays right."""
    copy = object.__new__(Posting)
    copy.__dict__.update(posting.__dict__, raw_digest=digest)
    return copy


@cache
def _raw_list_decoder(key: str) -> msgspec.json.Decoder[Any]:
    """A decoder of a `{key: [record, ...]}` object keeping each record raw; other members skipped."""
    listing = msgspec.defstruct("Listing", [("records", list[msgspec.Raw])], rename={"records": key})
    return msgspec.json.Decoder(listing)


def _label(request: Request | None) -> str:
    if request is None:
        return "(unknown request)"
    return f"{request.method} {quoted(shown_url(request.url), URL_LIMIT)}"


_SECRET_PARAMETER = re.compile(
    r"([?&](?:api[_-]?key|key|token|access[_-]?token|secret|client[_-]?secret|password|signature|sig)=)[^&#]*",
    re.IGNORECASE,
)


def shown_url(url: str) -> str:
    """`url` as it may appear in logs and stored errors: credentials in the query string masked."""
    return _SECRET_PARAMETER.sub(r"\1****", url)


def _record_id(record: Any) -> str:
    if isinstance(record, Mapping) and record.get("id") is not None:
        return quoted(repr(record["id"]), 80)
    return "(no id)"


def _brief(data: Any) -> str:
    kinds: dict[type, str] = {dict: "an object", list: "an array"}
    kind = kinds.get(type(data), type(data).__name__)
    return f"{kind}: {quoted_json(data)}"


def quoted_json(data: Any) -> str:
    """At most SNIPPET_LIMIT characters of `data` as JSON, for an error about the response it came in.

    While a redirected response is read, nothing of it: "(not quoted: the response came through
    a redirect)". Spiders quote bodies through this alone.
    """
    if not _QUOTE_BODY.get():
        return "(not quoted: the response came through a redirect)"
    text = json.dumps(data, ensure_ascii=False, default=str)
    return quoted(text[: SNIPPET_LIMIT - 3] + "..." if len(text) > SNIPPET_LIMIT else text, SNIPPET_LIMIT)


#: Unicode categories an error never carries: controls (terminal escapes, NUL, newlines), format
#: characters (bidi overrides that reorder what an operator reads) and line/paragraph separators.
_UNQUOTABLE = frozenset({"Cc", "Cf", "Zl", "Zp"})


def quoted(text: str, limit: int) -> str:
    """`text` as an error may carry it: control and format characters as spaces, at most `limit` long.

    Errors are stored, shown by `rolewatch status`, logged and sent to operators; a board can put
    anything in a body or a link, so nothing of it reaches them raw or at length.
    """
    clean = "".join(" " if unicodedata.category(char) in _UNQUOTABLE else char for char in text)
    return clean if len(clean) <= limit else clean[: limit - 3] + "..."


@contextmanager
def _quoting(allowed: bool) -> Iterator[None]:
    """Let `quoted_json` quote the body being read (or not, for a redirected response) meanwhile."""
    token = _QUOTE_BODY.set(allowed)
    try:
        yield
    finally:
        _QUOTE_BODY.reset(token)


def _size(n: int) -> str:
    for unit, factor in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n:,} bytes"
