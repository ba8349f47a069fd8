"""Scrapy settings from politeness, Retry-After parsing, conditional requests and per-source deadlines."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.middlewares import (
    META_CONDITIONAL,
    META_DEADLINE,
    META_EXPIRED,
    META_VALIDATORS_SEEN,
    ConditionalRequestMiddleware,
    PoliteRetryMiddleware,
    SourceDeadlineMiddleware,
    parse_retry_after,
)
from crawler.settings import scrapy_settings, shared_politeness
from rolewatch.config import Politeness

UA = "rolewatch/0.1.0 (+https://github.com/rolewatch/rolewatch)"


def test_settings_are_polite_and_say_who_we_are() -> None:
    politeness = Politeness(delay=timedelta(seconds=2), retries=4, max_response_size=5 * 2**20)
    settings = scrapy_settings(politeness, UA, obey_robots=True)
    assert settings["USER_AGENT"] == UA and settings["ROBOTSTXT_OBEY"] is True
    assert settings["CONCURRENT_REQUESTS_PER_DOMAIN"] == 2 and settings["DOWNLOAD_DELAY"] == 2.0
    assert settings["AUTOTHROTTLE_ENABLED"] is True
    assert settings["AUTOTHROTTLE_START_DELAY"] == 2.0, "not Scrapy's 5 s"
    assert (settings["RETRY_TIMES"], settings["DOWNLOAD_TIMEOUT"]) == (4, 30.0)
    assert settings["DOWNLOAD_MAXSIZE"] == 5 * 2**20
    assert settings["HTTPCACHE_ENABLED"] is False
    assert settings["TELNETCONSOLE_ENABLED"] is False and settings["REMOTE_CONTROL_ENABLED"] is False
    assert settings["COOKIES_ENABLED"] is False and settings["LOG_LEVEL"] == "WARNING"
    middlewares = _enabled(settings, "DOWNLOADER_MIDDLEWARES")
    assert "scrapy.downloadermiddlewares.retry.RetryMiddleware" not in middlewares
    assert "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware" not in middlewares
    assert "scrapy.downloadermiddlewares.cookies.CookiesMiddleware" not in middlewares
    assert (
        middlewares.index("crawler.middlewares.PoliteRetryMiddleware")
        == middlewares.index("scrapy.downloadermiddlewares.useragent.UserAgentMiddleware") + 1
    ), "our retries sit where Scrapy's were (550)"
    assert {m for m in middlewares if m.startswith("scrapy.")} == {
        f"scrapy.downloadermiddlewares.{name}"
        for name in (
            "offsite.OffsiteMiddleware",
            "downloadtimeout.DownloadTimeoutMiddleware",
            "defaultheaders.DefaultHeadersMiddleware",
            "useragent.UserAgentMiddleware",
            "httpcompression.HttpCompressionMiddleware",  # its size limits apply to what it inflates
            "redirect.RedirectMiddleware",
            "httpproxy.HttpProxyMiddleware",
        )
    }
    assert _enabled(settings, "SPIDER_MIDDLEWARES") == [
        "scrapy.spidermiddlewares.start.StartSpiderMiddleware",
        "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware",
        "scrapy.spidermiddlewares.referer.RefererMiddleware",
        "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware",
    ]
    # Scrapy's stats are kept by nothing (the crawl's figures are the spider's own ledger).
    assert _enabled(settings, "EXTENSIONS") == [
        "scrapy.extensions.closespider.CloseSpider",
        "scrapy.extensions.throttle.AutoThrottle",
    ]
    assert settings["STATS_CLASS"] == "scrapy.statscollectors.DummyStatsCollector"


def _enabled(settings: dict[str, object], name: str) -> list[str]:
    """The components Scrapy builds from `name` and its base list, in order, as import paths."""
    from scrapy.settings import Settings
    from scrapy.utils.conf import build_component_list

    built = build_component_list(Settings(settings).getwithbase(name))
    return [path if isinstance(path, str) else f"{path.__module__}.{path.__qualname__}" for path in built]


def test_sources_crawled_together_get_the_strictest_host_limits() -> None:
    gentle = Politeness(concurrency_per_host=1, delay=timedelta(seconds=3), autothrottle=False)
    brisk = Politeness(concurrency_per_host=4, delay=timedelta(0), autothrottle=True, retries=7)
    shared = shared_politeness([brisk, gentle])
    assert (shared.concurrency_per_host, shared.delay, shared.autothrottle) == (1, timedelta(seconds=3), True)
    assert shared_politeness([]) == Politeness()


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("1", 1.0), (" 120 ", 120.0), ("Mon, 23 Nov 2026 10:00:30 GMT", 30.0),
     ("Mon, 23 Nov 2026 09:00:00 GMT", 0.0), ("soon", None), ("", None)],
)  # fmt: skip
def test_retry_after_is_seconds_or_an_http_date(value: str, seconds: float | None) -> None:
    now = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)
    assert parse_retry_after(value, now=now) == seconds


def test_conditional_requests_send_the_servers_validators_and_let_304_through() -> None:
    middleware = ConditionalRequestMiddleware()
    sent = {"etag": '"abc"', "last_modified": "Sun, 01 Nov 2026 09:00:00 GMT"}
    request = Request("http://127.0.0.1/jobs", meta={META_CONDITIONAL: sent})
    middleware.process_request(request)
    assert request.headers[b"If-None-Match"] == b'"abc"'
    assert request.headers[b"If-Modified-Since"] == b"Sun, 01 Nov 2026 09:00:00 GMT"
    assert 304 in request.meta["handle_httpstatus_list"]

    middleware.process_response(request, Response(request.url, status=304, request=request))
    assert request.meta[META_VALIDATORS_SEEN] == sent, "a 304 keeps the validators that were sent"

    fresh = Request("http://127.0.0.1/jobs", meta={META_CONDITIONAL: {}})
    middleware.process_request(fresh)
    assert b"If-None-Match" not in fresh.headers and "handle_httpstatus_list" not in fresh.meta
    middleware.process_response(fresh, Response(fresh.url, headers={"ETag": '"def"'}, request=fresh))
    assert fresh.meta[META_VALIDATORS_SEEN] == {"etag": '"def"'}

    plain = Request("http://127.0.0.1/jobs?skip=100")
    middleware.process_request(plain)
    middleware.process_response(plain, Response(plain.url, headers={"ETag": '"x"'}, request=plain))
    assert b"If-None-Match" not in plain.headers and META_VALIDATORS_SEEN not in plain.meta


def test_a_source_out_of_time_sends_nothing_more_and_downloads_are_capped_at_its_deadline() -> None:
    middleware = SourceDeadlineMiddleware()
    late = Request("http://127.0.0.1/jobs", meta={META_DEADLINE: time.monotonic() - 1})
    with pytest.raises(IgnoreRequest):
        middleware.process_request(late)
    assert late.meta[META_EXPIRED] is True

    soon = Request(
        "http://127.0.0.1/jobs", meta={META_DEADLINE: time.monotonic() + 5, "download_timeout": 30}
    )
    middleware.process_request(soon)
    assert 5 < soon.meta["download_timeout"] <= 6, (
        "capped just past the deadline, so the deadline speaks first"
    )


def test_a_cut_body_fails_while_retries_remain_and_the_last_attempt_keeps_what_arrived() -> None:
    settings = scrapy_settings(Politeness(retries=1), UA, obey_robots=False)
    assert settings["DOWNLOAD_FAIL_ON_DATALOSS"] is True
    retry = PoliteRetryMiddleware.from_crawler(get_crawler(settings_dict=settings))
    attempts = [
        Request("https://board.example/jobs", meta={"max_retry_times": 1}),
        Request("https://board.example/jobs", meta={"max_retry_times": 1, "retry_times": 1}),
        Request("https://board.example/jobs", meta={"dont_retry": True}),
    ]
    for request in attempts:
        retry.process_request(request)
    assert [r.meta["download_fail_on_dataloss"] for r in attempts] == [True, False, False]
