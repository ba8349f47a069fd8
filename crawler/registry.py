"""The registry of source types: the built-ins plus any a package adds under `rolewatch.source_types`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolewatch.config import SourceOptions

ENTRY_POINT_GROUP = "rolewatch.source_types"
BUILT_IN = ("greenhouse", "lever", "simplify")


@dataclass(frozen=True)
class SourceType:
    """What the rest of rolewatch needs to know about one kind of board.

    `spider` is the Scrapy spider class that crawls every source of this type in one
    crawl; `example` is the configuration entry `rolewatch init` and the README show.
    """

    name: str
    description: str
    options: type[SourceOptions]
    spider: type[Any]
    example: Mapping[str, Any] = field(default_factory=dict)


@cache
def source_types() -> dict[str, SourceType]:
    """Every known source type by name; built-ins first, so a plugin cannot shadow one silently."""
    found: dict[str, SourceType] = {}
    for name in BUILT_IN:
        found[name] = import_module(f"crawler.spiders.{name}").SOURCE_TYPE
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in found:
            found[entry.name] = entry.load()
    return found
