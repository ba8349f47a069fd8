"""The registry of source types: the built-ins plus any a package adds under `rolewatch.source_types`.

A built-in type is declared in `crawler/types/<type>.py` (its options model and `SOURCE_TYPE`) and
crawled by `crawler/spiders/<type>.py`. The declaration names its spider as `"module:Class"`, so
reading a configuration imports neither the spider nor Scrapy (a fifth of a second, paid by every
`rolewatch check` and by the parent of every crawl): the spider is imported at its first use, in a
crawl worker. A type's declaration is imported when that type is first asked for, not before:
checking a file of 200 Greenhouse sources imports the Greenhouse declaration alone, not every type
and the parsers their options need (jmespath, parsel...). Listing the types imports every
declaration, still no spider.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cache
from importlib import import_module
from importlib.metadata import entry_points
from pkgutil import iter_modules
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rolewatch.config import SourceOptions

ENTRY_POINT_GROUP = "rolewatch.source_types"
BUILT_IN_PACKAGE = "crawler.types"


class SourceType:
    """What the rest of rolewatch needs to know about one kind of board.

    `spider` is the Scrapy spider class that crawls every source of this type in one crawl. It
    may be given as `"module:Class"`, imported when it is first asked for: the options are what
    validation needs, and they come without Scrapy. `example` is the configuration entry
    `rolewatch init` and the README show.
    """

    __slots__ = ("_spider", "description", "example", "name", "options")

    def __init__(
        self,
        name: str,
        description: str,
        options: type[SourceOptions],
        spider: type[Any] | str,
        example: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.options = options
        self._spider = spider
        self.example: Mapping[str, Any] = example if example is not None else {}

    @property
    def spider(self) -> type[Any]:
        """The spider class, imported now if the declaration named it."""
        if isinstance(self._spider, str):
            self._spider = spider_class(self._spider)
        return self._spider

    def __repr__(self) -> str:
        return f"SourceType(name={self.name!r}, spider={self._spider!r})"


def spider_class(reference: str) -> type[Any]:
    """The class `"package.module:Class"` names (the form of an entry point)."""
    module, _, name = reference.partition(":")
    found: Any = import_module(module)
    for part in name.split("."):
        found = getattr(found, part)
    if not isinstance(found, type):
        raise TypeError(f"{reference!r} names a {type(found).__name__}, not a spider class")
    return found


class SourceTypes(Mapping[str, SourceType]):
    """Every known source type by name; built-ins first, so a plugin cannot shadow one silently.

    A built-in is any module in `crawler/types/` that defines `SOURCE_TYPE`: adding a type is
    adding its declaration there (and its spider). By convention the module is named after its
    type, so looking up one type imports `crawler/types/<name>.py` alone; a name that does not follow it (or a
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
        """The type `crawler/types/<name>.py` declares under its own name, if that module exists."""
        if name not in self._modules:
            return None
        source_type = getattr(import_module(f"{BUILT_IN_PACKAGE}.{name}"), "SOURCE_TYPE", None)
        return source_type if isinstance(source_type, SourceType) and source_type.name == name else None


@cache
def source_types() -> SourceTypes:
    """The registry, one per process (`source_types.cache_clear()` reads it afresh)."""
    return SourceTypes()


def built_in_modules() -> frozenset[str]:
    """The module names under `crawler/types/` (private helpers, `_name`, excluded)."""
    package = import_module(BUILT_IN_PACKAGE)
    return frozenset(info.name for info in iter_modules(package.__path__) if not info.name.startswith("_"))


def options_model(name: str) -> type[SourceOptions]:
    """The options model of the source type `name`; ValueError naming the known types otherwise."""
    known = source_types()
    if name not in known:
        raise ValueError(f"unknown source type {name!r}; known: {', '.join(sorted(known))}")
    return known[name].options
