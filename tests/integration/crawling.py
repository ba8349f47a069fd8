"""Helpers for the crawler tests: sources built through the real configuration, with fast politeness."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from typing import Any

import yaml

from rolewatch.config import ResolvedSource
from rolewatch.domain import CrawlResult
from rolewatch.resolve import parse_config

#: No delay, few retries, short time-outs: the suite must stay fast, the behaviour stays the same.
FAST_POLITENESS: dict[str, Any] = {
    "delay": "0s",
    "autothrottle": False,
    "retries": 1,
    "request_timeout": "5s",
    "concurrency_per_host": 8,
}


def resolved(
    entries: Iterable[Mapping[str, Any]], timeout: str = "20s", **politeness: Any
) -> list[ResolvedSource]:
    """Sources as `rolewatch.yaml` would define them, validated and resolved by the real config code."""
    config = {
        "defaults": {"timeout": timeout, "politeness": {**FAST_POLITENESS, **politeness}},
        "sources": [dict(entry) for entry in entries],
    }
    return parse_config(yaml.safe_dump(config, sort_keys=False)).resolved_sources()


def with_limits(source: ResolvedSource, timeout_s: float | None = None, **politeness: Any) -> ResolvedSource:
    """The same source with its own time limit or politeness (the config sets those for all sources)."""
    changes: dict[str, Any] = {"politeness": source.politeness.model_copy(update=politeness)}
    if timeout_s is not None:
        changes["timeout"] = timedelta(seconds=timeout_s)
    return dataclasses.replace(source, **changes)


def by_name(results: Sequence[CrawlResult]) -> dict[str, CrawlResult]:
    return {result.source: result for result in results}
