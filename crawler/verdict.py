"""The crawl verdict (SPEC §3.1) from one source's own accounting; pure, so the parent can use it too."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from rolewatch.domain import CrawlResult, CrawlStats, CrawlVerdict

#: How many error messages the one-line `reason` quotes before saying how many more there were.
REASON_ERRORS = 2


def decide_verdict(*, items: int, errors: Sequence[str]) -> CrawlVerdict:
    """Complete, partial or failed; "suspect" needs stored state, so the diff decides that one.

    Every problem (a failed request, a page of the wrong shape, a posting that would not
    normalise, a time-out, a page cap) is recorded as an error, so "no errors" is exactly
    "every listing request succeeded and paging reached its natural end". With errors, what
    was read is still worth adding and updating (partial) unless nothing was read (failed).
    Scrapy's own finish reason plays no part: a crawl whose only request got a 404 "finishes".
    """
    if not errors:
        return CrawlVerdict.COMPLETE
    return CrawlVerdict.PARTIAL if items > 0 else CrawlVerdict.FAILED


def summarize_errors(errors: Sequence[str]) -> str:
    """One line for status displays: the first errors, then how many more (all are in stats.errors)."""
    shown = "; ".join(errors[:REASON_ERRORS])
    more = len(errors) - REASON_ERRORS
    return f"{shown} (+{more} more)" if more > 0 else shown


def failed_result(source: str, reason: str, started_at: datetime) -> CrawlResult:
    """The result for a source whose crawl never reported one (the crawl process died, say)."""
    finished_at = datetime.now(UTC)
    duration = max(0.0, (finished_at - started_at).total_seconds())
    return CrawlResult(
        source=source,
        verdict=CrawlVerdict.FAILED,
        started_at=started_at,
        finished_at=finished_at,
        stats=CrawlStats(duration_s=round(duration, 3), errors=(reason,)),
        reason=reason,
    )
