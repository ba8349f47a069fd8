"""Option pieces the configurable types (json, html) share: strict nested blocks, and `base_url` for paths."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, ValidationInfo


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
