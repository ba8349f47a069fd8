"""Downloader middlewares: the trust boundary, per-source deadlines, Retry-After and back-off,
conditional requests, robots."""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.httpobj import urlparse_cached

from crawler.trust import HostPolicy, Refused

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.http import Response
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

#: `time.monotonic()` after which the request's source has run out of time.
META_DEADLINE = "rolewatch_deadline"
#: The longest Retry-After (seconds) this request's source will wait for.
META_MAX_RETRY_AFTER = "rolewatch_max_retry_after"
#: First retry's back-off (seconds); doubles with each retry. Zero retries at once.
META_BACKOFF = "rolewatch_backoff"
#: Present when the request may be sent conditionally: the validators to send (possibly none yet).
META_CONDITIONAL = "rolewatch_conditional"
#: Set by ConditionalRequestMiddleware: the validators that now describe the response.
META_VALIDATORS_SEEN = "rolewatch_validators_seen"
#: Why a retryable failure was not retried (Retry-After too long, out of time); for the error message.
META_GAVE_UP = "rolewatch_gave_up"
#: Set when the request was dropped because its source ran out of time.
META_EXPIRED = "rolewatch_expired"
#: The HostPolicy of the request's source: where it (and every redirect of it) may go.
META_HOSTS = "rolewatch_hosts"
#: Set by TrustBoundaryMiddleware when it refused the request: why.
META_REFUSED = "rolewatch_refused"

RETRY_AFTER_STATUSES = frozenset({429, 503})


class TrustBoundaryMiddleware:
    """Refuses, before it is sent, any request that leaves its source's hosts (see crawler.trust).

    Every request passes here, a redirect too: Scrapy's RedirectMiddleware builds the redirect
    as a new request with the same meta, and the engine sends it through the whole chain again,
    so a `302` to an internal host is refused here before a byte goes there. A request without
    a policy (Scrapy's own robots.txt request) may go to its own host only, redirects included.
    Host names allowed only by an `allowed_hosts` wildcard are resolved (off the reactor thread,
    once per crawl) and refused when any address is not a public one.
    """

    def __init__(self) -> None:
        self._addresses: dict[str, tuple[str, ...] | None] = {}

    async def process_request(self, request: Request) -> None:
        policy = request.meta.get(META_HOSTS)
        if not isinstance(policy, HostPolicy):
            policy = request.meta[META_HOSTS] = HostPolicy.of([request.url])
        try:
            host = policy.check(request.url)
            if host is not None:
                addresses = await self._resolve(host)
                if addresses is None:
                    raise Refused(f"could not resolve {host}")
                policy.check_addresses(host, addresses)
        except Refused as refused:
            reason = f"refused: {refused}{_redirected_from(request)}"
            request.meta[META_REFUSED] = reason
            raise IgnoreRequest(reason) from None

    async def _resolve(self, host: str) -> tuple[str, ...] | None:
        """Every address `host` resolves to, cached for the crawl; None when it does not resolve."""
        if host not in self._addresses:
            loop = asyncio.get_running_loop()
            try:
                found = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
            except OSError:
                self._addresses[host] = None
            else:
                self._addresses[host] = tuple(sorted({str(info[4][0]) for info in found}))
        return self._addresses[host]


def _redirected_from(request: Request) -> str:
    """` (redirected from URL)` for a request a redirect made; the first URL, as configured or linked."""
    urls = request.meta.get("redirect_urls") or []
    return f" (redirected from {urls[-1]})" if urls else ""


class SourceDeadlineMiddleware:
    """Drops requests of a source that ran out of time and caps each download at the time it has left.

    Without the cap a request started just before a source's deadline could run for a whole
    DOWNLOAD_TIMEOUT after it, holding the crawl (and the child process) open. The cap leaves a
    second's margin so the source's own deadline fires first and its result says "timed out".
    """

    margin_s = 1.0

    def process_request(self, request: Request) -> None:
        deadline = request.meta.get(META_DEADLINE)
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            request.meta[META_EXPIRED] = True
            raise IgnoreRequest("the source ran out of time")
        timeout = request.meta.get("download_timeout")
        cap = left + self.margin_s
        request.meta["download_timeout"] = min(timeout, cap) if timeout else cap


class PoliteRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, plus back-off between attempts and `Retry-After` on 429 and 503.

    Scrapy 2.19's RetryMiddleware retries a 429 almost at once and never reads Retry-After.
    Here a retryable answer waits `Retry-After` (seconds or an HTTP date) when the server sent
    one, else an exponential back-off, and then retries against the same retry budget. A wait
    longer than the source's `max_retry_after`, or past its deadline, is not taken: the request
    fails at once with the reason recorded in its meta.

    A body cut short (fewer bytes than its Content-Length, an unfinished chunked body) fails and
    is retried while attempts remain; the last attempt hands what arrived to the spider, flagged
    `dataloss`, which keeps it and calls the crawl partial (never complete).
    """

    def process_request(self, request: Request) -> None:
        retries_left = not request.meta.get("dont_retry") and self._has_retries_left(request)
        request.meta["download_fail_on_dataloss"] = retries_left

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        if not self._has_retries_left(request):
            return response
        wait = self._wait_before_retry(request, response)
        if wait is None:
            return response
        await asyncio.sleep(wait)
        return self._retry(request, f"HTTP {response.status}") or response

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions_to_retry):
            return None
        if not self._has_retries_left(request):
            return None
        wait = self._backoff(request)
        if not self._fits_deadline(request, wait):
            request.meta[META_GAVE_UP] = "the source ran out of time for another attempt"
            return None
        await asyncio.sleep(wait)
        return self._retry(request, exception)

    def _has_retries_left(self, request: Request) -> bool:
        budget = request.meta.get("max_retry_times", self.max_retry_times)
        return bool(request.meta.get("retry_times", 0) < budget)

    def _wait_before_retry(self, request: Request, response: Response) -> float | None:
        """Seconds to wait before retrying, or None (with the reason in meta) to give up now."""
        header = response.headers.get(b"Retry-After")
        retry_after = parse_retry_after(header.decode("latin-1")) if header else None
        if response.status in RETRY_AFTER_STATUSES and retry_after is not None:
            default = self._setting("ROLEWATCH_MAX_RETRY_AFTER", 120.0)
            limit = float(request.meta.get(META_MAX_RETRY_AFTER, default))
            if retry_after > limit:
                request.meta[META_GAVE_UP] = f"Retry-After {retry_after:g}s is over the {limit:g}s limit"
                return None
            wait = retry_after
        else:
            wait = self._backoff(request)
        if not self._fits_deadline(request, wait):
            request.meta[META_GAVE_UP] = f"waiting {wait:g}s more would pass the source's time limit"
            return None
        return wait

    def _backoff(self, request: Request) -> float:
        base = float(request.meta.get(META_BACKOFF, self._setting("ROLEWATCH_RETRY_BACKOFF", 0.0)))
        return float(base * 2 ** request.meta.get("retry_times", 0))

    @staticmethod
    def _fits_deadline(request: Request, wait: float) -> bool:
        deadline = request.meta.get(META_DEADLINE)
        return deadline is None or time.monotonic() + wait < deadline

    def _setting(self, name: str, default: float) -> float:
        return float(self.crawler.settings.getfloat(name, default))


def parse_retry_after(value: str, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class ConditionalRequestMiddleware:
    """Sends the server's own validators back and lets its 304 Not Modified through to the spider.

    A request opts in with `meta[META_CONDITIONAL]` = `{"etag": …, "last_modified": …}` (either may
    be missing; an empty mapping just asks for the response's validators to be collected). The
    validators that describe the response end up in `meta[META_VALIDATORS_SEEN]`.
    """

    def process_request(self, request: Request) -> None:
        sent = request.meta.get(META_CONDITIONAL)
        if sent is None:
            return
        if sent.get("etag"):
            request.headers[b"If-None-Match"] = sent["etag"]
        if sent.get("last_modified"):
            request.headers[b"If-Modified-Since"] = sent["last_modified"]
        if sent.get("etag") or sent.get("last_modified"):
            allowed = list(request.meta.get("handle_httpstatus_list", ()))
            request.meta["handle_httpstatus_list"] = [*allowed, 304]

    def process_response(self, request: Request, response: Response) -> Response:
        sent = request.meta.get(META_CONDITIONAL)
        if sent is None:
            return response
        seen = dict(sent) if response.status == 304 else {}
        for key, header in (("etag", b"ETag"), ("last_modified", b"Last-Modified")):
            value = response.headers.get(header)
            if value:
                seen[key] = value.decode("latin-1")
        request.meta[META_VALIDATORS_SEEN] = seen
        return response


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """RobotsTxtMiddleware that answers every request that waited for the host's robots.txt.

    In Scrapy 2.19 on Twisted's asyncio reactor, requests waiting for a robots.txt download all
    await one Deferred, and `Deferred.asFuture` consumes its result: the first two waiters get
    the parser, the rest get None and are let through unchecked. The parser is also stored in
    `_parsers` once known, so read it from there when the wait came back empty.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        parser: RobotParser | None = await super().robot_parser(request)
        if parser is None:
            stored: Any = self._parsers.get(urlparse_cached(request).netloc)
            if stored is not None and not hasattr(stored, "addCallback"):
                parser = stored
        return parser
