"""Shared parts of the hostile suite: one pool of warm crawl workers for the whole session."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from crawler.workers import CrawlWorkers


@pytest.fixture(scope="session")
def crawl_workers() -> Iterator[CrawlWorkers]:
    """Warm workers, as the daemon keeps them: each test's crawls skip a worker's ~2 s start."""
    pool = CrawlWorkers()
    yield pool
    pool.close()
