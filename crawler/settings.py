"""Scrapy settings for one crawl batch, built from rolewatch's politeness configuration."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rolewatch.config import Politeness

#: Only http and https are ever requested: board content must not make the crawler read local
#: files (`file:`), or reach other services through the other handlers (see crawler.trust).
DOWNLOAD_HANDLERS: dict[str, str | None] = {"file": None, "data": None, "ftp": None, "s3": None}

#: Our downloader middlewares. Scrapy's own RetryMiddleware and RobotsTxtMiddleware are replaced by
#: subclasses that honour Retry-After and answer every request waiting for robots.txt (see middlewares).
DOWNLOADER_MIDDLEWARES: dict[str, int] = {
    "crawler.middlewares.SourceDeadlineMiddleware": 60,
    # Before robots.txt (100), which would otherwise fetch the refused host's robots.txt first.
    "crawler.middlewares.TrustBoundaryMiddleware": 70,
    "crawler.middlewares.SharedRobotsTxtMiddleware": 100,
    "crawler.middlewares.ConditionalRequestMiddleware": 450,
    "crawler.middlewares.PoliteRetryMiddleware": 550,
}

#: Scrapy's own components that are never used: replaced by ours above, switched off by the
#: settings below, or keeping only Scrapy's stats, which nothing here reads (the crawl's figures
#: are the spider's ledger). They are left out of Scrapy's base lists themselves, not set to
#: None: Scrapy imports every component a list names, even one set to None, and these brought
#: tldextract (cookies) and aiohttp (the remote control) into every fresh worker, a tenth of a
#: second. The stats keepers ran on every request and response: a tenth of the worker's time in
#: an unchanged full-body re-crawl.
_LEFT_OUT = frozenset(
    {
        "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
        "scrapy.downloadermiddlewares.retry.RetryMiddleware",
        "scrapy.downloadermiddlewares.cookies.CookiesMiddleware",
        "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware",
        "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware",
        "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware",
        "scrapy.downloadermiddlewares.stats.DownloaderStats",
        "scrapy.spidermiddlewares.depth.DepthMiddleware",
        "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware",
        "scrapy.extensions.telnet.TelnetConsole",
        "scrapy.extensions.remote_control.RemoteControl",
        "scrapy.extensions.corestats.CoreStats",
        "scrapy.extensions.logcount.LogCount",
        "scrapy.extensions.logstats.LogStats",
        "scrapy.extensions.memusage.MemoryUsage",
        "scrapy.extensions.memdebug.MemoryDebugger",
        "scrapy.extensions.feedexport.FeedExporter",
        "scrapy.extensions.spiderstate.SpiderState",
    }
)


def _base_without_left_out(name: str) -> dict[str, int]:
    """Scrapy's default `name` (a `*_BASE` list of components) without the components left out."""
    from scrapy.settings import default_settings

    base: dict[str, int] = getattr(default_settings, name)
    return {path: order for path, order in base.items() if path not in _LEFT_OUT}


def scrapy_settings(politeness: Politeness, user_agent: str, obey_robots: bool) -> dict[str, Any]:
    """The settings of one crawler: every source it crawls shares these per-host limits.

    Per-request limits (retries, time-out, size, Retry-After ceiling) are also set per source in
    each request's meta by the spider; the values here are the defaults behind them.
    """
    delay = politeness.delay.total_seconds()
    return {
        "USER_AGENT": user_agent,
        "ROBOTSTXT_OBEY": obey_robots,
        "CONCURRENT_REQUESTS": 16,
        "CONCURRENT_REQUESTS_PER_DOMAIN": politeness.concurrency_per_host,
        # Callbacks hand postings to the source's ledger and yield only follow-up Requests, so
        # Scrapy's item concurrency buys nothing; its default (100) starts 101 asyncio tasks for
        # every response, which cost an unchanged re-crawl more than its JSON parsing.
        "CONCURRENT_ITEMS": 1,
        "DOWNLOAD_DELAY": delay,
        "AUTOTHROTTLE_ENABLED": politeness.autothrottle,
        # Scrapy starts AutoThrottle at 5 s whatever DOWNLOAD_DELAY says; start where we were told to.
        "AUTOTHROTTLE_START_DELAY": delay,
        "AUTOTHROTTLE_MAX_DELAY": max(60.0, delay),
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "RETRY_TIMES": politeness.retries,
        # A request that runs out of retries is an error in the crawl result, not a log line.
        "RETRY_GIVE_UP_LOG_LEVEL": "INFO",
        "DOWNLOAD_TIMEOUT": politeness.request_timeout.total_seconds(),
        "DOWNLOAD_MAXSIZE": politeness.max_response_size,
        "DOWNLOAD_WARNSIZE": 0,
        # A body cut short fails and is retried; PoliteRetryMiddleware lets the last attempt's
        # through flagged `dataloss`, which the spider reads as partial, never as complete.
        "DOWNLOAD_FAIL_ON_DATALOSS": True,
        "DOWNLOADER_MIDDLEWARES": dict(DOWNLOADER_MIDDLEWARES),
        "DOWNLOADER_MIDDLEWARES_BASE": _base_without_left_out("DOWNLOADER_MIDDLEWARES_BASE"),
        "SPIDER_MIDDLEWARES_BASE": _base_without_left_out("SPIDER_MIDDLEWARES_BASE"),
        "EXTENSIONS_BASE": _base_without_left_out("EXTENSIONS_BASE"),
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "DOWNLOAD_HANDLERS": dict(DOWNLOAD_HANDLERS),
        "ROLEWATCH_MAX_RETRY_AFTER": politeness.max_retry_after.total_seconds(),
        "ROLEWATCH_RETRY_BACKOFF": delay,
        # HttpCache's heuristic freshness serves stale listings without asking the server; we send
        # the server's own validators instead (ConditionalRequestMiddleware).
        "HTTPCACHE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "METAREFRESH_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }


def shared_politeness(politenesses: Iterable[Politeness]) -> Politeness:
    """The strictest host limits among sources crawled together, since they share one download slot.

    Only the per-host fields are merged; per-request fields stay each source's own (request meta).
    """
    chosen = list(politenesses)
    if not chosen:
        return Politeness()
    return chosen[0].model_copy(
        update={
            "concurrency_per_host": min(p.concurrency_per_host for p in chosen),
            "delay": max(p.delay for p in chosen),
            "autothrottle": any(p.autothrottle for p in chosen),
        }
    )
