"""The registry of source types: the built-ins plus any a package adds under `rolewatch.source_types`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from pkgutil import iter_modules
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolewatch.config import SourceOptions

ENTRY_POINT_GROUP = "rolewatch.source_types"
BUILT_IN_PACKAGE = "crawler.spiders"


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
    """Every known source type by name; built-ins first, so a plugin cannot shadow one silently.

    A built-in is any module in `crawler/spiders/` that defines `SOURCE_TYPE`: adding a type
    is adding one file there.
    """
    found: dict[str, SourceType] = {}
    for module in sorted(built_in_modules()):
        source_type = getattr(import_module(f"{BUILT_IN_PACKAGE}.{module}"), "SOURCE_TYPE", None)
        if isinstance(source_type, SourceType):
            found[source_type.name] = source_type
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in found:
            found[entry.name] = entry.load()
    return found


def built_in_modules() -> list[str]:
    """The module names under `crawler/spiders/` (private helpers, `_name`, excluded)."""
    package = import_module(BUILT_IN_PACKAGE)
    return [info.name for info in iter_modules(package.__path__) if not info.name.startswith("_")]


def options_model(name: str) -> type[SourceOptions]:
    """The options model of the source type `name`; ValueError naming the known types otherwise."""
    known = source_types()
    if name not in known:
        raise ValueError(f"unknown source type {name!r}; known: {', '.join(sorted(known))}")
    return known[name].options
