"""Option pieces types share: strict nested blocks and `base_url` for paths (json, html), `max_pages`.

Imported by the types' declarations (`crawler/types/`), so it imports nothing of Scrapy.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo

#: The ceiling on any type's `max_pages`: past it a board is better split into several sources.
MAX_PAGES_CEILING = 10_000


class OptionBlock(BaseModel):
    """Nested option blocks refuse unknown keys, like every other part of the configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def paths_need_base(urls: Iterable[str], info: ValidationInfo) -> None:
    """A `/path` names no host by itself; `base_url` (validated first, by the base class) must."""
    if not info.data.get("base_url") and any(url.startswith("/") for url in urls):
        raise ValueError("a /path needs `base_url`, the host it is on")


def rehost(url: str, base_url: str | None) -> str:
    """`url` on `base_url`'s scheme and host (a mirror, a proxy, a test server); unchanged without one."""
    if not base_url:
        return url
    base, target = urlsplit(base_url.rstrip("/")), urlsplit(url)
    return urlunsplit((base.scheme, base.netloc, base.path + target.path, target.query, target.fragment))


def max_pages_option(default: int, counted: str = "listing pages read per crawl") -> Any:
    """The `max_pages` option of a paged type: its default is the type's own, the rule the same."""
    return Field(
        default,
        ge=1,
        le=MAX_PAGES_CEILING,
        description=f"{counted} at most; more makes the crawl partial (a board that never stops paging)",
    )
