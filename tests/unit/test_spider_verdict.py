"""The crawl verdict from one source's accounting, and the result for a source that never reported."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from crawler.verdict import decide_verdict, failed_result, summarize_errors
from rolewatch.domain import CrawlVerdict


@pytest.mark.parametrize(
    ("items", "errors", "verdict"),
    [
        (12, [], CrawlVerdict.COMPLETE),
        (0, [], CrawlVerdict.COMPLETE),  # an empty board, read to its end; the diff may call it suspect
        (12, ["GET …?skip=100: HTTP 500 after 3 retries"], CrawlVerdict.PARTIAL),
        (12, ["listing truncated: page cap of 99 pages reached"], CrawlVerdict.PARTIAL),
        (2, ["posting 7 skipped: 'title' is missing or blank"], CrawlVerdict.PARTIAL),
        (0, ["GET …/jobs: HTTP 404"], CrawlVerdict.FAILED),
        (0, ["timed out after 5m with 1 request(s) unfinished"], CrawlVerdict.FAILED),
    ],
)
def test_the_verdict_follows_errors_and_what_was_read(
    items: int, errors: list[str], verdict: CrawlVerdict
) -> None:
    assert decide_verdict(items=items, errors=errors) is verdict


def test_the_reason_quotes_the_first_errors_and_counts_the_rest() -> None:
    assert summarize_errors([]) == ""
    assert summarize_errors(["a", "b"]) == "a; b"
    assert summarize_errors(["a", "b", "c", "d"]) == "a; b (+2 more)"


def test_a_source_without_a_result_fails_with_the_reason() -> None:
    started = datetime.now(UTC) - timedelta(seconds=3)
    result = failed_result("stripe", "the crawl process was killed by SIGKILL", started)
    assert result.verdict is CrawlVerdict.FAILED and result.postings == ()
    assert result.reason == "the crawl process was killed by SIGKILL"
    assert result.stats.errors == (result.reason,)
    assert result.started_at == started and result.finished_at.tzinfo is UTC
    assert result.stats.duration_s >= 3


def test_credentials_in_a_url_never_reach_errors_or_logs() -> None:
    from crawler.spider import shown_url

    url = "https://www.themuse.com/api/public/jobs?page=2&api_key=s3cr3t&company=TikTok&token=t0k"
    shown = shown_url(url)
    assert "s3cr3t" not in shown and "t0k" not in shown
    assert shown == "https://www.themuse.com/api/public/jobs?page=2&api_key=****&company=TikTok&token=****"
