"""Subscription queries: Lucene-style text parsed by luqum, compiled once into fast posting predicates."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import pycountry
from luqum import tree
from luqum.exceptions import IllegalCharacterError, ParseError
from luqum.thread import parse as _luqum_parse

from rolewatch.domain import Posting

FIELDS = ("title", "company", "location", "description")
"""The field prefixes a query may use; a term without one matches any of them."""

_ANY = "*"
# Separates values (two locations, two fields) inside one joined text so that a phrase or a
# wildcard can never match across them: it is not a word character, and wildcards expand to \w only.
_SEPARATOR = " | "
_WORD = re.compile(r"\w+")
_QUERY_WORD = re.compile(r"[\w*?]+")
_POSITION = re.compile(r"position (\d+)")
_PREFIX_LENGTH = 3


class QuerySyntaxError(ValueError):
    """A query that cannot be compiled; the message names the position (or the field) at fault."""


def fold(text: str) -> str:
    """Case- and accent-insensitive form: NFKD, combining marks dropped, casefolded.

    Both sides of every comparison go through this, so `Zürich`, `ZURICH` and `zurich` are one word.
    """
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    # A text holds few distinct marks: removing each with a C-level replace beats a per-character loop.
    for mark in {c for c in set(decomposed) if unicodedata.combining(c)}:
        decomposed = decomposed.replace(mark, "")
    return decomposed.casefold()


def words(text: str) -> list[str]:
    """The folded words of `text`; punctuation only separates words, so matching is word-based."""
    return _WORD.findall(fold(text))


class FieldText:
    """One searchable field of a posting, folded once: the word set for exact words, the joined text
    for phrases and wildcards."""

    __slots__ = ("joined", "vocabulary", "words")

    def __init__(self, values: Iterable[str]) -> None:
        parts = [" ".join(words(v)) for v in values if v]
        self.set_text([p for p in parts if p])

    def set_text(self, parts: list[str]) -> None:
        # Padded with spaces so a pattern can start with a literal " word", which re searches fast.
        self.joined = f" {_SEPARATOR.join(parts)} " if parts else ""
        self.words = frozenset(self.joined.split()) - {"|"}
        # Each distinct word once: a one-word wildcard scans this, far shorter than a description.
        self.vocabulary = f" {' '.join(self.words)} " if self.words else ""


class PostingText:
    """A posting's searchable text, folded once so that thousands of queries can share the work."""

    __slots__ = ("fields", "keys")

    def __init__(self, fields: Mapping[str, FieldText]) -> None:
        self.fields: dict[str, FieldText] = _Fields(fields)
        self.keys = _posting_keys(fields)


class _Fields(dict[str, FieldText]):
    """The searchable fields plus the any-field text, joined only when a query first needs it
    (most subscriptions name their field, and the joined text is as long as all the others)."""

    def __missing__(self, key: str) -> FieldText:
        if key != _ANY:
            raise KeyError(key)
        any_field = FieldText(())
        any_field.set_text([f.joined.strip() for f in self.values() if f.joined])
        self[_ANY] = any_field
        return any_field


def posting_text(posting: Posting) -> PostingText:
    """Fold the four searchable fields of `posting`; build this once per posting, not per query."""
    location_values: list[str] = []
    for location in posting.locations:
        parts = [location.label(), location.name, location.city, location.region, location.country]
        if location.remote:
            parts.append("Remote")
        if location.country:
            parts.append(_country_name(location.country))
        # One value per location keeps a phrase from spanning two locations.
        location_values.append(" ".join(p for p in parts if p))
    return PostingText(
        {
            "title": FieldText([posting.title]),
            "company": FieldText([posting.company or ""]),
            "location": FieldText(location_values),
            "description": FieldText([posting.description_text]),
        }
    )


@lru_cache(maxsize=512)
def _country_name(code: str) -> str:
    """`AU` → `Australia`, so `location:australia` matches a posting that only stores the code."""
    country = pycountry.countries.get(alpha_2=code.upper())
    if country is None:
        return ""
    names = [getattr(country, attr, "") for attr in ("name", "common_name", "official_name")]
    return " ".join(dict.fromkeys(n for n in names if n))


Predicate = Callable[[PostingText], bool]
# A key is (kind, field, text): ("w", field, word) or ("p", field, the first _PREFIX_LENGTH letters).
Key = tuple[str, str, str]


def _posting_keys(fields: Mapping[str, FieldText]) -> frozenset[Key]:
    """Keys per searchable field; a query term on any field asks for the key of each field instead,
    so the joined any-field text (as long as all the others together) needs no keys of its own."""
    keys: set[Key] = set()
    for name, field in fields.items():
        if name == _ANY:
            continue
        words = field.words
        keys.update([("w", name, word) for word in words])
        # Only full-length prefixes: a wildcard with a shorter literal start is checked directly.
        prefixes = {word[:_PREFIX_LENGTH] for word in words if len(word) >= _PREFIX_LENGTH}
        keys.update([("p", name, prefix) for prefix in prefixes])
    return frozenset(keys)


@dataclass(frozen=True)
class _Compiled:
    """A compiled node: its predicate and, for pre-filtering, keys at least one of which any
    matching posting must have (None when no such set is known, e.g. under NOT).

    `exact` says the keys decide the node on their own (a word, or an OR of words): a posting
    matches exactly when it has one of them. `vetoes`, for a NOT of such a node, are the keys
    whose absence alone means a match. Both let a QuerySet skip calling predicates at all.
    """

    predicate: Predicate
    keys: frozenset[Key] | None
    exact: bool = False
    vetoes: frozenset[Key] | None = None


class Query:
    """A compiled query; `matches` is cheap, `compile_query` does the parsing once."""

    __slots__ = ("_predicate", "exact", "keys", "text", "vetoes")

    def __init__(self, text: str, compiled: _Compiled) -> None:
        self.text = text
        self._predicate = compiled.predicate
        self.keys = compiled.keys
        self.exact = compiled.exact
        self.vetoes = compiled.vetoes

    def matches(self, posting: Posting) -> bool:
        """Convenience for one posting; when matching many queries fold the posting once with
        `posting_text` and call `matches_text`."""
        return self._predicate(posting_text(posting))

    def matches_text(self, text: PostingText) -> bool:
        return self._predicate(text)

    def __repr__(self) -> str:
        return f"Query({self.text!r})"


def compile_query(text: str) -> Query:
    """Parse `text` with luqum and compile it; raise QuerySyntaxError naming the position at fault."""
    if not text.strip():
        raise QuerySyntaxError("query: empty query at position 0")
    try:
        parsed = _luqum_parse(text)
    except IllegalCharacterError as exc:
        raise QuerySyntaxError(f"query: {_describe(str(exc), text)}") from None
    except ParseError as exc:
        raise QuerySyntaxError(f"query: {_describe(str(exc), text)}") from None
    return Query(text, _compile(parsed, None, text))


def _describe(message: str, text: str) -> str:
    """Turn luqum's `Syntax error in input : unexpected  'AND' at position 4!` into a short message
    that always carries a position (luqum says `at the end` for an unexpected end)."""
    message = message.removeprefix("Syntax error in input : ").rstrip("!")
    message = re.sub(r"\s+", " ", message)
    if "at the end" in message:
        message = message.replace("at the end", f"at position {len(text)} (the end)")
    if not _POSITION.search(message):
        message = f"{message} at position 0"
    return message


def _compile(node: Any, field: str | None, text: str) -> _Compiled:
    """Compile one luqum node; `field` is the enclosing field prefix, if any."""
    if isinstance(node, tree.SearchField):
        name = node.name.lower()
        if name not in FIELDS:
            raise QuerySyntaxError(
                f"query: unknown field {node.name!r} at position {node.pos}; "
                f"allowed fields: {', '.join(FIELDS)}"
            )
        if field is not None:
            raise QuerySyntaxError(f"query: nested field {node.name!r} at position {node.pos}")
        return _compile(node.expr, name, text)
    if isinstance(node, tree.Group | tree.FieldGroup | tree.Plus | tree.Boost):
        # Plus marks a required term, which every term already is under AND; boost only ranks.
        return _compile(node.children[0], field, text)
    if isinstance(node, tree.Not | tree.Prohibit):
        return _not(_compile(node.children[0], field, text))
    if isinstance(node, tree.AndOperation | tree.UnknownOperation):
        # An implicit operator (`a b`) is AND: every word narrows the subscription.
        return _and([_compile(c, field, text) for c in node.children])
    if isinstance(node, tree.OrOperation):
        return _or([_compile(c, field, text) for c in node.children])
    if isinstance(node, tree.Phrase):
        return _term(node.value[1:-1], field or _ANY, node.pos)
    if isinstance(node, tree.Word):
        return _term(node.value, field or _ANY, node.pos)
    kind = type(node).__name__.lower()
    raise QuerySyntaxError(f"query: unsupported {kind} {str(node).strip()!r} at position {node.pos}")


def _term(raw: str, field: str, pos: int) -> _Compiled:
    """A word or phrase: its query words in order, exact or with `*`/`?` wildcards."""
    unescaped = re.sub(r"\\(.)", r"\1", raw)
    tokens = _QUERY_WORD.findall(fold(unescaped))
    if not tokens:
        raise QuerySyntaxError(f"query: {raw!r} at position {pos} has no word to match")
    if len(tokens) == 1 and not _is_wild(tokens[0]):
        keys = _token_keys(tokens[0], field)
        assert keys is not None  # a literal word always has keys
        return _keyed(keys)
    pattern = re.compile(" " + " ".join(_token_pattern(t) for t in tokens) + "(?= )")
    search = pattern.search
    keys = _token_keys(tokens[0], field)
    if len(tokens) == 1:
        return _Compiled(lambda t: search(t.fields[field].vocabulary) is not None, keys)
    # A phrase: its literal words must all be present before the (slower) positional search.
    needed = frozenset(t for t in tokens if not _is_wild(t))
    return _Compiled(
        lambda t: needed <= t.fields[field].words and search(t.fields[field].joined) is not None, keys
    )


def _is_wild(token: str) -> bool:
    return "*" in token or "?" in token


def _token_pattern(token: str) -> str:
    if not token.strip("*"):
        return r"\w+"  # a lone `*` means "some word", never the empty string
    return "".join(r"\w*" if c == "*" else r"\w" if c == "?" else re.escape(c) for c in token)


def _token_keys(token: str, field: str) -> frozenset[Key] | None:
    """The keys a posting needs (one of) for `token` to match in `field`; any field means each field's."""
    fields = FIELDS if field == _ANY else (field,)
    if not _is_wild(token):
        return frozenset(("w", name, token) for name in fields)
    prefix = re.split(r"[*?]", token, maxsplit=1)[0]
    if len(prefix) < _PREFIX_LENGTH:
        return None
    return frozenset(("p", name, prefix[:_PREFIX_LENGTH]) for name in fields)


def _keyed(keys: frozenset[Key]) -> _Compiled:
    """A node the posting's keys decide alone (words, or words OR'ed): one set test, no text scan."""
    if len(keys) == 1:
        (key,) = keys
        return _Compiled(lambda t: key in t.keys, keys, exact=True)
    return _Compiled(lambda t: not keys.isdisjoint(t.keys), keys, exact=True)


def _not(child: _Compiled) -> _Compiled:
    predicate = child.predicate
    return _Compiled(lambda t: not predicate(t), None, vetoes=child.keys if child.exact else None)


def _and(children: list[_Compiled]) -> _Compiled:
    known = [c.keys for c in children if c.keys is not None]
    # Any one conjunct's keys are necessary for the whole; the smallest set filters best.
    keys = min(known, key=len) if known else None
    if all(c.exact and c.keys is not None and len(c.keys) == 1 for c in children):
        # Words that must all be there: one subset test on the posting's keys decides it.
        needed = frozenset().union(*(c.keys for c in children if c.keys is not None))
        return _Compiled(lambda t: needed <= t.keys, keys)
    if len(children) == 2:
        a, b = (c.predicate for c in children)
        return _Compiled(lambda t: a(t) and b(t), keys)
    predicates = tuple(c.predicate for c in children)
    return _Compiled(lambda t: all(p(t) for p in predicates), keys)


def _or(children: list[_Compiled]) -> _Compiled:
    keys: frozenset[Key] | None = frozenset()
    for child in children:
        keys = None if child.keys is None or keys is None else keys | child.keys
    exact = all(c.exact for c in children)
    if exact and keys is not None:
        return _keyed(keys)
    if len(children) == 2:
        a, b = (c.predicate for c in children)
        return _Compiled(lambda t: a(t) or b(t), keys, exact=exact)
    predicates = tuple(c.predicate for c in children)
    return _Compiled(lambda t: any(p(t) for p in predicates), keys, exact=exact)


K = TypeVar("K", bound=Hashable)


class QuerySet(Generic[K]):
    """Many queries matched together: an index of the words each query needs means a posting is
    only tested against the queries that could possibly match it, so cost follows the candidates,
    not the number of subscriptions. Queries the keys decide on their own (a word, an OR of
    words, or NOT of those) are answered from the index without evaluating anything."""

    def __init__(self, queries: Mapping[K, Query]) -> None:
        self._index: dict[Key, list[K]] = {}
        self._vetoes: dict[Key, list[K]] = {}
        self._always: list[K] = []
        self._negated: set[K] = set()
        self._exact: set[K] = set()
        self._queries = dict(queries)
        self._predicates = {ident: query._predicate for ident, query in self._queries.items()}
        self._order = {ident: n for n, ident in enumerate(self._queries)}
        for ident, query in self._queries.items():
            if query.keys is not None:
                for key in query.keys:
                    self._index.setdefault(key, []).append(ident)
                if query.exact:
                    self._exact.add(ident)
            elif query.vetoes is not None:
                self._negated.add(ident)
                for key in query.vetoes:
                    self._vetoes.setdefault(key, []).append(ident)
            else:
                self._always.append(ident)
        self._index_keys = frozenset(self._index)
        self._veto_keys = frozenset(self._vetoes)

    def matching(self, text: PostingText) -> list[K]:
        """The identifiers of the queries that match, in the order the queries were given."""
        found = list(self.matching_set(text))
        found.sort(key=self._order.__getitem__)
        return found

    def matching_set(self, text: PostingText) -> set[K]:
        """The identifiers of the queries that match, unordered (cheaper for many matches)."""
        candidates: set[K] = set()
        for key in text.keys & self._index_keys:
            candidates.update(self._index[key])
        predicates = self._predicates
        found = candidates & self._exact
        found.update(i for i in candidates - self._exact if predicates[i](text))
        found.update(i for i in self._always if predicates[i](text))
        if self._negated:
            vetoed: set[K] = set()
            for key in text.keys & self._veto_keys:
                vetoed.update(self._vetoes[key])
            found |= self._negated - vetoed
        return found
