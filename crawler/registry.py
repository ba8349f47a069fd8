"""The registry of source types: the built-ins plus any a package adds under `rolewatch.source_types`.

A type's module is imported when that type is first asked for, not before: checking a file of
200 Greenhouse sources, or crawling them in a fresh worker, imports the Greenhouse spider alone,
not every spider and the parsers they bring (extruct, feedparser, lxml's HTML cleaner...).
Listing the types (iterating the registry) still imports every one.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
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


class SourceTypes(Mapping[str, SourceType]):
    """Every known source type by name; built-ins first, so a plugin cannot shadow one silently.

    A built-in is any module in `crawler/spiders/` that defines `SOURCE_TYPE`: adding a type
    is adding one file there. By convention the module is named after its type, so looking up
    one type imports `crawler/spiders/<name>.py` alone; a name that does not follow it (or a
    plugin's type, or an unknown name) is looked up in the whole registry, every module loaded.
    """

    def __init__(self) -> None:
        self._modules = built_in_modules()
        self._found: dict[str, SourceType] = {}
        self._every: dict[str, SourceType] | None = None

    def __getitem__(self, name: str) -> SourceType:
        found = self._found.get(name)
        if found is None:
            found = self._named_built_in(name) or self.every()[name]
            self._found[name] = found
        return found

    def __iter__(self) -> Iterator[str]:
        return iter(self.every())

    def __len__(self) -> int:
        return len(self.every())

    def every(self) -> dict[str, SourceType]:
        """Every type, each module imported: built-ins in module order, then the plugins."""
        if self._every is None:
            found: dict[str, SourceType] = {}
            for module in sorted(self._modules):
                source_type = getattr(import_module(f"{BUILT_IN_PACKAGE}.{module}"), "SOURCE_TYPE", None)
                if isinstance(source_type, SourceType):
                    found[source_type.name] = source_type
            for entry in entry_points(group=ENTRY_POINT_GROUP):
                if entry.name not in found:
                    found[entry.name] = entry.load()
            self._every = found
        return self._every

    def _named_built_in(self, name: str) -> SourceType | None:
        """The type `crawler/spiders/<name>.py` defines under its own name, if that module exists."""
        if name not in self._modules:
            return None
        source_type = getattr(import_module(f"{BUILT_IN_PACKAGE}.{name}"), "SOURCE_TYPE", None)
        return source_type if isinstance(source_type, SourceType) and source_type.name == name else None


@cache
def source_types() -> SourceTypes:
    """The registry, one per process (`source_types.cache_clear()` reads it afresh)."""
    return SourceTypes()


def built_in_modules() -> frozenset[str]:
    """The module names under `crawler/spiders/` (private helpers, `_name`, excluded)."""
    package = import_module(BUILT_IN_PACKAGE)
    return frozenset(info.name for info in iter_modules(package.__path__) if not info.name.startswith("_"))


def options_model(name: str) -> type[SourceOptions]:
    """The options model of the source type `name`; ValueError naming the known types otherwise."""
    known = source_types()
    if name not in known:
        raise ValueError(f"unknown source type {name!r}; known: {', '.join(sorted(known))}")
    return known[name].options
