"""Subscription queries: Lucene-style text parsed by luqum, compiled once into fast posting predicates."""

from __future__ import annotations

import dataclasses
import itertools
import re
import unicodedata
from collections.abc import Callable, Hashable, Iterable, Mapping
from functools import cached_property, lru_cache
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

    def __init__(self, values: Iterable[str]) -> None:
        parts = [" ".join(words(v)) for v in values if v]
        self.set_text([p for p in parts if p])

    def set_text(self, parts: list[str]) -> None:
        # Padded with spaces so a pattern can start with a literal " word", which re searches fast.
        self.joined = f" {_SEPARATOR.join(parts)} " if parts else ""
        self.words = frozenset(self.joined.split()) - {"|"}

    @cached_property
    def vocabulary(self) -> str:
        """Each distinct word once: a one-word wildcard scans this, far shorter than a description."""
        return f" {' '.join(self.words)} " if self.words else ""

    @cached_property
    def prefixes(self) -> frozenset[str]:
        """The full-length prefixes of the words, asked for only when some wildcard needs one."""
        return frozenset({word[:_PREFIX_LENGTH] for word in self.words if len(word) >= _PREFIX_LENGTH})


class PostingText:
    """A posting's searchable text, folded once so that thousands of queries can share the work."""

    __slots__ = ("fields",)

    def __init__(self, fields: Mapping[str, FieldText]) -> None:
        self.fields: dict[str, FieldText] = _Fields(fields)


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


# A key is (kind, field, text): ("w", field, word) or ("p", field, the first _PREFIX_LENGTH letters).
Key = tuple[str, str, str]
Predicate = Callable[[PostingText], bool]


@dataclasses.dataclass(frozen=True, slots=True)
class Term:
    """Query words in order, in one field or in any (`*`): one exact word, one wildcard, or a phrase."""

    field: str
    tokens: tuple[str, ...]
    exact: bool = dataclasses.field(init=False, compare=False, repr=False)
    # Per token, the keys a matching posting has one of: the word, or a wildcard's prefix, in each field.
    requirements: frozenset[frozenset[Key]] = dataclasses.field(init=False, compare=False, repr=False)
    keys: frozenset[Key] | None = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        fields = FIELDS if self.field == _ANY else (self.field,)
        per_token = (frozenset(_token_keys(token, fields)) for token in self.tokens)
        requirements = frozenset(keys for keys in per_token if keys)
        object.__setattr__(self, "exact", len(self.tokens) == 1 and not _is_wild(self.tokens[0]))
        object.__setattr__(self, "requirements", requirements)
        # One requirement suffices to index by.
        object.__setattr__(self, "keys", min(requirements, key=_index_cost) if requirements else None)


@dataclasses.dataclass(frozen=True, slots=True)
class Not:
    child: Node
    exact = False
    keys = None


@dataclasses.dataclass(frozen=True, slots=True)
class All:
    children: frozenset[Node]
    keys: frozenset[Key] | None = dataclasses.field(init=False, compare=False, repr=False)
    exact = False

    def __post_init__(self) -> None:
        # Any one conjunct's keys are necessary for the whole; the fewest, rarest keys filter best.
        known = [c.keys for c in self.children if c.keys is not None]
        object.__setattr__(self, "keys", min(known, key=_index_cost) if known else None)


@dataclasses.dataclass(frozen=True, slots=True)
class AnyOf:
    children: frozenset[Node]
    exact: bool = dataclasses.field(init=False, compare=False, repr=False)
    keys: frozenset[Key] | None = dataclasses.field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        known = [c.keys for c in self.children if c.keys is not None]
        keys = frozenset().union(*known) if len(known) == len(self.children) else None
        object.__setattr__(self, "exact", all(c.exact for c in self.children))
        object.__setattr__(self, "keys", keys)


Node = Term | Not | All | AnyOf
"""A compiled query, normalised: equal sub-queries are equal nodes, so subscriptions share them.

`keys` are keys at least one of which any matching posting has (None when no such set is known,
e.g. under NOT); `exact` says they decide the node on their own (a word, or words OR'ed).
"""


def _index_cost(keys: frozenset[Key]) -> tuple[int, int, list[Key]]:
    # A description or a prefix is found in far more postings than a title word; sorted keys break ties
    # the same way in every process, whatever the order of a frozenset.
    common = sum((kind == "p") + (field == "description") for kind, field, _ in keys)
    return len(keys), common, sorted(keys)


class Query:
    """A compiled query; `matches` is cheap, `compile_query` does the parsing once."""

    __slots__ = ("_predicate", "node", "text")

    def __init__(self, text: str, node: Node) -> None:
        self.text = text
        self.node = node
        # Built on first use: a QuerySet never needs it, and thousands of closures cost memory.
        self._predicate: Predicate | None = None

    def matches(self, posting: Posting) -> bool:
        """Convenience for one posting; when matching many queries fold the posting once with
        `posting_text` and call `matches_text`, or put the queries in a QuerySet."""
        return self.matches_text(posting_text(posting))

    def matches_text(self, text: PostingText) -> bool:
        if self._predicate is None:
            self._predicate = _predicate(self.node)
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
    return Query(text, _compile(parsed, None))


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


def _compile(node: Any, field: str | None) -> Node:
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
        return _compile(node.expr, name)
    if isinstance(node, tree.Group | tree.FieldGroup | tree.Plus | tree.Boost):
        # Plus marks a required term, which every term already is under AND; boost only ranks.
        return _compile(node.children[0], field)
    if isinstance(node, tree.Not | tree.Prohibit):
        return _negate(_compile(node.children[0], field))
    if isinstance(node, tree.AndOperation | tree.UnknownOperation):
        # An implicit operator (`a b`) is AND: every word narrows the subscription.
        return _all([_compile(c, field) for c in node.children])
    if isinstance(node, tree.OrOperation):
        return _any([_compile(c, field) for c in node.children])
    if isinstance(node, tree.Phrase):
        return _term(node.value[1:-1], field, node.pos)
    if isinstance(node, tree.Word):
        return _term(node.value, field, node.pos)
    kind = type(node).__name__.lower()
    raise QuerySyntaxError(f"query: unsupported {kind} {str(node).strip()!r} at position {node.pos}")


def _term(raw: str, field: str | None, pos: int) -> Node:
    """A word or phrase: its query words in order, exact or with `*`/`?` wildcards."""
    node = _term_node(raw, field)
    if node is None:
        raise QuerySyntaxError(f"query: {raw!r} at position {pos} has no word to match")
    return node


@lru_cache(maxsize=8192)
def _term_node(raw: str, field: str | None) -> Node | None:
    # Cached: subscriptions repeat the same words, and equal terms then share one node.
    unescaped = re.sub(r"\\(.)", r"\1", raw)
    tokens = tuple(_QUERY_WORD.findall(fold(unescaped)))
    return Term(field or _ANY, tokens) if tokens else None


def _negate(child: Node) -> Node:
    return child.child if isinstance(child, Not) else Not(child)


def _all(children: Iterable[Node]) -> Node:
    """AND, flattened and without repeats, so that equal conditions make equal nodes."""
    flat: set[Node] = set()
    for child in children:
        flat.update(child.children if isinstance(child, All) else (child,))
    return next(iter(flat)) if len(flat) == 1 else All(frozenset(flat))


def _any(children: Iterable[Node]) -> Node:
    flat: set[Node] = set()
    for child in children:
        flat.update(child.children if isinstance(child, AnyOf) else (child,))
    return next(iter(flat)) if len(flat) == 1 else AnyOf(frozenset(flat))


def _token_keys(token: str, fields: Iterable[str]) -> list[Key]:
    """The keys a posting needs one of for `token` to match in one of `fields`: the word in one of
    them, or for a wildcard the prefix (none when the wildcard's literal start is too short)."""
    if not _is_wild(token):
        return [("w", field, token) for field in fields]
    prefix = re.split(r"[*?]", token, maxsplit=1)[0]
    # Only full-length prefixes: a wildcard with a shorter literal start is checked directly.
    if len(prefix) < _PREFIX_LENGTH:
        return []
    return [("p", field, prefix[:_PREFIX_LENGTH]) for field in fields]


def _is_wild(token: str) -> bool:
    return "*" in token or "?" in token


@lru_cache(maxsize=8192)
def _pattern(tokens: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(" " + " ".join(_token_pattern(t) for t in tokens) + "(?= )")


def _token_pattern(token: str) -> str:
    if not token.strip("*"):
        return r"\w+"  # a lone `*` means "some word", never the empty string
    return "".join(r"\w*" if c == "*" else r"\w" if c == "?" else re.escape(c) for c in token)


def _term_test(term: Term) -> Predicate:
    """A word by the field's word set, a wildcard by its vocabulary, a phrase by its literal words
    and then (slower) a positional search."""
    field, tokens = term.field, term.tokens
    if term.exact:
        (word,) = tokens
        return lambda t: word in t.fields[field].words
    search = _pattern(tokens).search
    if len(tokens) == 1:
        return lambda t: search(t.fields[field].vocabulary) is not None
    needed = frozenset(t for t in tokens if not _is_wild(t))
    return lambda t: needed <= t.fields[field].words and search(t.fields[field].joined) is not None


def _predicate(node: Node) -> Predicate:
    """The straightforward evaluation of one query against one posting."""
    if isinstance(node, Term):
        return _term_test(node)
    if isinstance(node, Not):
        child = _predicate(node.child)
        return lambda t: not child(t)
    parts = tuple(_predicate(c) for c in sorted(node.children, key=_cost))
    if len(parts) == 2:
        a, b = parts
        if isinstance(node, All):
            return lambda t: a(t) and b(t)
        return lambda t: a(t) or b(t)
    if isinstance(node, All):
        return lambda t: all(p(t) for p in parts)
    return lambda t: any(p(t) for p in parts)


def _cost(node: Node) -> int:
    return 0 if node.exact else 1 if isinstance(node, Term) else 2


Evaluator = Callable[[set[int], PostingText, dict[int, bool]], bool]
"""A node decided for one posting, given `present` (the ids of the keys the posting has, and of the
groups of OR'ed keys it has one of) and `memo` (the text searches already done for the posting)."""


class _Plan:
    """A QuerySet's keys and nodes, numbered: most nodes are then decided by a subset or disjointness
    test on the posting's present ids, and each text search runs at most once per posting however
    many subscriptions share it."""

    def __init__(self) -> None:
        self._ids: dict[Key, int] = {}
        self._groups: dict[frozenset[Key], int] = {}
        self._evaluators: dict[Node, Evaluator] = {}
        self._needed: dict[Node, frozenset[int]] = {}
        self._costs: dict[int, tuple[int, int, list[Key]]] = {}
        self._numbers = itertools.count()

    def key(self, key: Key) -> int:
        found = self._ids.get(key)
        if found is None:
            found = self._ids[key] = self._new_id()
        return found

    def atom(self, keys: frozenset[Key]) -> int:
        """The id present when any one of `keys` is: the key's own, or the group's."""
        found = self.key(next(iter(keys))) if len(keys) == 1 else self._group(keys)
        if found not in self._costs:
            self._costs[found] = _index_cost(keys)
        return found

    def _group(self, keys: frozenset[Key]) -> int:
        found = self._groups.get(keys)
        if found is None:
            for key in keys:
                self.key(key)
            found = self._groups[keys] = self._new_id()
        return found

    def needed(self, node: Node) -> frozenset[int]:
        """Ids a posting has every one of when `node` matches (none known under NOT)."""
        found = self._needed.get(node)
        if found is None:
            found = self._needed[node] = self._find_needed(node)
        return found

    def _find_needed(self, node: Node) -> frozenset[int]:
        if isinstance(node, Term):
            return frozenset(self.atom(keys) for keys in node.requirements)
        if isinstance(node, All):
            return frozenset().union(*(self.needed(child) for child in node.children))
        return frozenset([self.atom(node.keys)]) if node.keys is not None else frozenset()

    def second(self, node: Node, first: int) -> int | None:
        """After `first`, the rarest other id `node` needs: indexing by both leaves few candidates."""
        others = self.needed(node) - {first}
        return min(others, key=self._costs.__getitem__) if others else None

    def _new_id(self) -> int:
        return next(self._numbers)

    def finder(self) -> _KeyFinder:
        groups_of: dict[int, list[int]] = {}
        for keys, group in self._groups.items():
            for key in keys:
                groups_of.setdefault(self._ids[key], []).append(group)
        return _KeyFinder(self._ids, groups_of)

    def evaluator(self, node: Node) -> Evaluator:
        """How `node` is decided; equal nodes share one evaluator."""
        found = self._evaluators.get(node)
        if found is None:
            found = self._evaluators[node] = self._compile(node)
        return found

    def _compile(self, node: Node) -> Evaluator:
        if node.exact:
            assert node.keys is not None  # an exact node is decided by its keys
            atom = self.atom(node.keys)
            return lambda p, t, m: atom in p
        if isinstance(node, Term):
            return self._search(node)
        if isinstance(node, Not):
            return self._negation(node.child)
        if isinstance(node, All):
            return self._conjunction(node.children)
        return self._disjunction(node.children)

    def _search(self, term: Term) -> Evaluator:
        needed = frozenset(self.atom(keys) for keys in term.requirements)
        test = _term_test(term)
        done = self._new_id()

        def search(p: set[int], t: PostingText, m: dict[int, bool]) -> bool:
            if not needed <= p:
                return False
            found = m.get(done)
            if found is None:
                found = m[done] = test(t)
            return found

        return search

    def _negation(self, child: Node) -> Evaluator:
        if child.exact:
            assert child.keys is not None
            atom = self.atom(child.keys)
            return lambda p, t, m: atom not in p
        evaluate = self.evaluator(child)
        return lambda p, t, m: not evaluate(p, t, m)

    def _conjunction(self, children: frozenset[Node]) -> Evaluator:
        needed: set[int] = set()
        vetoes: set[int] = set()
        rest: list[Evaluator] = []
        for child in children:
            if child.exact:
                assert child.keys is not None
                needed.add(self.atom(child.keys))
            elif isinstance(child, Not) and child.child.exact:
                assert child.child.keys is not None
                vetoes.add(self.atom(child.child.keys))
            else:
                # What the child needs is checked with the other keys: most postings then fail
                # the set tests and need no call at all.
                needed.update(self.needed(child))
                rest.append(self.evaluator(child))
        return _conjoined(frozenset(needed), frozenset(vetoes), tuple(rest))

    def _disjunction(self, children: frozenset[Node]) -> Evaluator:
        hits: set[Key] = set()
        negated: set[int] = set()
        rest: list[Evaluator] = []
        for child in children:
            if child.exact:
                assert child.keys is not None
                hits.update(child.keys)
            elif isinstance(child, Not) and child.child.exact:
                assert child.child.keys is not None
                negated.add(self.atom(child.child.keys))
            else:
                rest.append(self.evaluator(child))
        hit = frozenset([self.atom(frozenset(hits))]) if hits else frozenset()
        missing = frozenset(negated)
        others = tuple(rest)
        return lambda p, t, m: not hit.isdisjoint(p) or not missing <= p or any(r(p, t, m) for r in others)


def _conjoined(needed: frozenset[int], vetoes: frozenset[int], rest: tuple[Evaluator, ...]) -> Evaluator:
    """AND: set tests first, so that most postings fail before any call."""
    if not rest:
        return lambda p, t, m: needed <= p and vetoes.isdisjoint(p)
    if len(rest) == 1:
        (only,) = rest
        return lambda p, t, m: needed <= p and vetoes.isdisjoint(p) and only(p, t, m)
    return lambda p, t, m: needed <= p and vetoes.isdisjoint(p) and all(r(p, t, m) for r in rest)


class _KeyFinder:
    """Finds the ids present for a posting: its keys that some query asks for, and the groups of
    OR'ed keys it has one of."""

    def __init__(self, ids: Mapping[Key, int], groups_of: Mapping[int, list[int]]) -> None:
        self._lookups: dict[tuple[str, str], dict[str, int]] = {}
        for (kind, field, text), found in ids.items():
            self._lookups.setdefault((kind, field), {})[text] = found
        self._known = {where: frozenset(lookup) for where, lookup in self._lookups.items()}
        self._groups_of = {key: tuple(groups) for key, groups in groups_of.items()}
        self._grouped = frozenset(self._groups_of)

    def present(self, text: PostingText) -> set[int]:
        found: set[int] = set()
        for (kind, field), known in self._known.items():
            side = text.fields[field]
            common = known & (side.words if kind == "w" else side.prefixes)
            if common:
                found.update(map(self._lookups[kind, field].__getitem__, common))
        for key in found & self._grouped:
            found.update(self._groups_of[key])
        return found


K = TypeVar("K", bound=Hashable)


class QuerySet(Generic[K]):
    """Many queries matched together: an index of the keys each query needs means a posting is only
    tested against the queries that could possibly match it, so cost follows the candidates, not
    the number of subscriptions. Equal queries are decided once, and queries the keys decide on
    their own (a word, an OR of words, or NOT of those) are answered from the index alone."""

    def __init__(self, queries: Mapping[K, Query]) -> None:
        self._order = {ident: n for n, ident in enumerate(queries)}
        sharing: dict[Node, list[K]] = {}
        for ident, query in queries.items():
            sharing.setdefault(query.node, []).append(ident)
        # Per distinct query (a root), the identifiers that asked for it.
        self._members = [tuple(idents) for idents in sharing.values()]
        plan = _Plan()
        self._exact: dict[int, list[int]] = {}
        self._index: dict[int, list[int]] = {}
        self._pairs: dict[int, dict[int, list[int]]] = {}
        self._vetoes: dict[int, list[int]] = {}
        self._negated: set[int] = set()
        self._always: list[int] = []
        self._evaluators: dict[int, Evaluator] = {}
        for root, node in enumerate(sharing):
            if node.exact:
                self._file(plan, node.keys, self._exact, root)
            elif isinstance(node, Not) and node.child.exact:
                self._negated.add(root)
                self._file(plan, node.child.keys, self._vetoes, root)
            else:
                self._evaluators[root] = plan.evaluator(node)
                self._file_evaluated(plan, node, root)
        self._finder = plan.finder()
        self._exact_keys = frozenset(self._exact)
        self._index_keys = frozenset(self._index)
        self._pair_keys = frozenset(self._pairs)
        self._veto_keys = frozenset(self._vetoes)

    @staticmethod
    def _file(plan: _Plan, keys: frozenset[Key] | None, index: dict[int, list[int]], root: int) -> None:
        assert keys is not None
        for key in keys:
            index.setdefault(plan.key(key), []).append(root)

    def _file_evaluated(self, plan: _Plan, node: Node, root: int) -> None:
        """File a query that needs evaluating under its keys, and when it needs a second id too, under
        both: a posting is then a candidate only if it has both."""
        if node.keys is None:
            self._always.append(root)
            return
        second = plan.second(node, plan.atom(node.keys))
        if second is None:
            self._file(plan, node.keys, self._index, root)
            return
        for key in node.keys:
            self._pairs.setdefault(plan.key(key), {}).setdefault(second, []).append(root)

    def matching(self, text: PostingText) -> list[K]:
        """The identifiers of the queries that match, in the order the queries were given."""
        found = list(self.matching_set(text))
        found.sort(key=self._order.__getitem__)
        return found

    def matching_set(self, text: PostingText) -> set[K]:
        """The identifiers of the queries that match, unordered (cheaper for many matches)."""
        found: set[K] = set()
        for root in self._matching_roots(text):
            found.update(self._members[root])
        return found

    def _matching_roots(self, text: PostingText) -> set[int]:
        present = self._finder.present(text)
        evaluators = self._evaluators
        memo: dict[int, bool] = {}
        roots = self._decided(present)
        roots.update([root for root in self._candidates(present) if evaluators[root](present, text, memo)])
        return roots

    def _decided(self, present: set[int]) -> set[int]:
        """The queries the present keys decide alone: those with one of their keys, and the NOTs of
        such queries whose keys are all absent."""
        roots: set[int] = set()
        for key in present & self._exact_keys:
            roots.update(self._exact[key])
        if self._negated:
            vetoed: set[int] = set()
            for key in present & self._veto_keys:
                vetoed.update(self._vetoes[key])
            roots |= self._negated - vetoed
        return roots

    def _candidates(self, present: set[int]) -> set[int]:
        """The queries to evaluate: those with one of their keys (and their second id, if filed by
        two), and those with no keys to file them by."""
        candidates = set(self._always)
        for key in present & self._index_keys:
            candidates.update(self._index[key])
        for key in present & self._pair_keys:
            seconds = self._pairs[key]
            for second in present.intersection(seconds):
                candidates.update(seconds[second])
        return candidates
