"""Whitespace, entity and HTML clean-up for the free text boards hand us."""

from __future__ import annotations

import html
import re
from functools import lru_cache
from typing import Final

import nh3
from lxml import etree

# Characters that render as nothing or as a gap but that `str.split()` does not treat as whitespace.
# ZWJ/ZWNJ (U+200C/U+200D) are deliberately absent: they join emoji sequences and shape Persian and
# Indic script, so turning them into spaces would corrupt text rather than tidy it.
_INVISIBLE_GAPS: Final = dict.fromkeys(map(ord, "\u200b\u2060\ufeff\u180e"), " ")
_SOFT_HYPHEN: Final = {0xAD: None}
_TEXT_TABLE: Final = {**_INVISIBLE_GAPS, **_SOFT_HYPHEN}
_INVISIBLE_CHARS: Final = tuple(map(chr, _TEXT_TABLE))

# C0 controls other than tab/newline/CR break libxml2 and have no meaning in a job description.
_CONTROL_CHARS: Final = {c: None for c in range(0x20) if c not in (0x09, 0x0A, 0x0D)}
_CONTROL_BYTES: Final = bytes(_CONTROL_CHARS)

_ALLOWED_TAGS: Final = frozenset(
    {
        "p", "br", "ul", "ol", "li", "strong", "em", "b", "i", "u", "a",
        "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "code", "pre", "hr",
        "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption",
        # Layout blocks stay so their text stays apart: Lever writes whole descriptions in divs.
        "div", "section", "dl", "dt", "dd",
    }
)  # fmt: skip
# Tags dropped together with everything inside them: their content is code or chrome, never prose.
_DROPPED_WITH_CONTENT: Final = frozenset(
    {"script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "math", "head", "title"}
)
_ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "ol": {"start"},
}
_URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})

# Elements that start a new paragraph (blank line) or just a new line in the plain-text rendering.
_PARAGRAPH_TAGS: Final = frozenset(
    {
        "p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "blockquote", "pre",
        "section", "article", "header", "footer", "aside", "nav", "figure", "form", "fieldset",
        "address", "main", "details", "hr",
    }
)  # fmt: skip
_LINE_TAGS: Final = frozenset(
    {"div", "li", "tr", "dt", "dd", "caption", "summary", "figcaption", "center", "legend", "option"}
)
_CELL_TAGS: Final = frozenset({"td", "th"})
_SKIPPED_TEXT_TAGS: Final = _DROPPED_WITH_CONTENT | {"select", "button"}
_BREAK_MARK: Final = "\x00"  # line breaks while rendering; control characters are removed first

# How each element shapes the text, looked up once per element in `_render`.
_SKIP, _ITEM, _PARAGRAPH, _LINE, _CELL, _BREAK, _PRE = range(1, 8)
_KINDS: Final[dict[object, int]] = {
    **dict.fromkeys(_PARAGRAPH_TAGS, _PARAGRAPH),
    **dict.fromkeys(_LINE_TAGS, _LINE),
    **dict.fromkeys(_CELL_TAGS, _CELL),
    **dict.fromkeys(_SKIPPED_TEXT_TAGS, _SKIP),
    "li": _ITEM,
    "br": _BREAK,
    "pre": _PRE,
}

# Entities decoded by plain replacement, `&amp;` last so that `&amp;lt;` decodes to `&lt;` only.
_AMP: Final = "&amp;"
_COMMON_ENTITIES: Final = (
    ("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&nbsp;", "\xa0"), (_AMP, "&"),
)  # fmt: skip

_CAMEL_BOUNDARY: Final = re.compile(r"(?<=[a-z])(?=[A-Z])")
_TAG: Final = re.compile(r"<[^>]*>?")
_SCRIPT_BLOCK: Final = re.compile(
    r"<(" + "|".join(sorted(_DROPPED_WITH_CONTENT)) + r")\b.*?(?:</\1\s*>|$)", re.IGNORECASE | re.DOTALL
)
# Only markup with this many tags can be deep enough for libxml2 to drop content silently.
_NESTING_SUSPICION: Final = 1000

# The plain etree parser, not lxml.html's: its Python-level element class lookup triples the cost.
_PARSER: Final = etree.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True, recover=True, huge_tree=True
)


def clean_text(value: str | None) -> str:
    """Collapse every run of whitespace (NBSP and zero-width gaps included) to one space.

    Boards pad titles and names with NBSPs and zero-width spaces copied from word processors;
    without this two identical titles would hash differently.
    """
    if not value:
        return ""
    if _has_invisible(value):
        value = value.translate(_TEXT_TABLE)
    return " ".join(value.split())


def split_camel(value: str) -> str:
    """`FullTime`, `OnSite` (schema.org, Workday, Ashby) read the same as `Full Time`, `On Site`."""
    return _CAMEL_BOUNDARY.sub(" ", value)


def _has_invisible(value: str) -> bool:
    """Whether `_TEXT_TABLE` has work to do: substring tests are far cheaper than translate().

    Every character it maps is outside ASCII, and `isascii()` reads a flag the string already
    carries: most titles, names and descriptions are ASCII and never reach the substring tests.
    """
    return not value.isascii() and any(map(value.__contains__, _INVISIBLE_CHARS))


def unescape_entities(value: str) -> str:
    """Decode HTML entities exactly once.

    Greenhouse's `content` is entity-escaped one level more than real HTML, so one pass turns
    it into markup; a second pass would decode the author's own `&amp;` and corrupt it.
    Escaped markup is dozens of `&lt;`/`&gt;` per description, which `html.unescape` decodes
    with a Python call each; when every `&` starts one of a few common entities, plain
    replacements give the same text at a quarter of the cost.

    Whether they do is read from the replacements themselves rather than from a regex scan
    first: no replacement makes or breaks an entity (none has an `&` but its first character,
    and none writes a letter), so once all but `&amp;` are decoded, the `&`s left are exactly
    those that started none of them, and each must start an `&amp;`.
    """
    if "&" not in value:
        return value
    decoded = value
    for entity, char in _COMMON_ENTITIES[:-1]:
        decoded = decoded.replace(entity, char)
        if "&" not in decoded:
            return decoded  # the rest would each scan the text for nothing
    if decoded.count("&") != decoded.count(_AMP):
        return html.unescape(value)  # an entity outside the few: the whole text, the slow way
    return decoded.replace(_AMP, "&")


def sanitize_html(value: str | None) -> str:
    """Reduce board HTML to a small, inert allow-list so it can be stored and re-displayed safely.

    Script/style bodies are removed outright (stripping only their tags would leak code into
    the text), event-handler attributes and `javascript:` links never survive, and links get
    `rel="noopener noreferrer"`.
    """
    if not value:
        return ""
    try:
        return _nh3_clean(value)
    except UnicodeEncodeError:
        # Lone surrogates cannot cross into Rust; replace them rather than lose the description.
        return _nh3_clean(value.encode("utf-8", "replace").decode("utf-8"))


def _nh3_clean(value: str) -> str:
    return _cleaner().clean(value)


@lru_cache(maxsize=1)
def _cleaner() -> nh3.Cleaner:
    """Built once: passing the allow-lists on every call costs more than the cleaning itself."""
    return nh3.Cleaner(
        tags=set(_ALLOWED_TAGS),
        clean_content_tags=set(_DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer",
        strip_comments=True,
    )


def html_to_text(value: str | None) -> str:
    """Render HTML as readable plain text, the form used for matching and change detection.

    Structure becomes line breaks (so a bullet list stays a list), entities are decoded, and
    script/style bodies are dropped. Broken markup is recovered by libxml2; if even that
    fails the tags are stripped crudely, because a description is never worth an exception.
    """
    if not value or value.isspace():
        return ""
    # Control characters are ASCII, so deleting their bytes from the UTF-8 is deleting them from
    # the text, in one C pass rather than a translate() of every character.
    markup = value.encode("utf-8", "replace").translate(None, _CONTROL_BYTES)
    try:
        root = etree.fromstring(markup, _PARSER)
    except (etree.LxmlError, ValueError):
        root = None
    text = _tidy_lines(_render(root)) if root is not None else ""
    if not text and (root is None or value.count("<") > _NESTING_SUSPICION):
        # libxml2 refused the input, or silently dropped content nested beyond its depth limit.
        plain = _fallback_text(value.translate(_CONTROL_CHARS))
        text = _tidy_lines(_BREAK_MARK.join(plain.splitlines()))
    return text


def _render(root: etree._Element) -> str:
    """Walk the tree once, turning structure into pending line breaks that merge.

    Breaks are owed rather than written (`pending`: 1 = new line, 2 = blank line) so that
    `</li>\n<li>` is one newline, not three. Breaks are written as NUL (never present in the
    input) so that the source's own newlines can stay plain whitespace. The walk is
    iterative, so deep nesting cannot hit the recursion limit, and it is one flat loop
    because this is the hot path of every description.
    """
    parts: list[str] = []
    append, kind_of = parts.append, _KINDS.get  # local names: a few dozen lookups per element
    # Each open element's kind, so that its end is not looked up again (every start has its end,
    # a skipped subtree's root included).
    open_kinds: list[int] = []
    push, pop = open_kinds.append, open_kinds.pop
    pending, bullet, items, pre = 0, False, 0, 0
    walker = etree.iterwalk(root, events=("start", "end"))
    for event, element in walker:
        if event == "start":
            kind = kind_of(element.tag, 0)
            push(kind)
            if kind:
                if kind == _SKIP:
                    walker.skip_subtree()
                    continue
                if kind == _ITEM:
                    pending, bullet, items = pending or 1, True, items + 1
                elif kind in (_PARAGRAPH, _PRE):
                    # Inside a list item a paragraph is just a line, so the list stays compact.
                    gap = 1 if items else 2
                    if pending < gap:
                        pending = gap
                    if kind == _PRE:
                        pre += 1
                elif kind == _LINE:
                    pending = pending or 1
                elif kind == _CELL and parts and not pending:
                    append(" ")
            text = element.text
        else:
            kind = pop()
            if kind:
                if kind == _ITEM:
                    pending, bullet, items = pending or 1, False, items - 1 if items else 0
                elif kind in (_PARAGRAPH, _PRE):
                    gap = 1 if items else 2
                    if pending < gap:
                        pending = gap
                    if kind == _PRE and pre:
                        pre -= 1
                elif kind == _BREAK:
                    if pending < 2:  # `<br><br>` is how many authors write a paragraph
                        pending += 1
                elif kind == _LINE:
                    pending = pending or 1
                elif kind == _CELL and parts and not pending:
                    append(" ")
            text = element.tail
        if not text:
            continue
        if text.isspace():
            if parts and not pending:
                append(" ")
            continue
        if pending:
            if parts:
                append(_BREAK_MARK * pending)
            pending = 0
        if bullet:
            append("- ")
            bullet = False
        append(text.replace("\n", _BREAK_MARK) if pre else text)
    return "".join(parts)


def _fallback_text(value: str) -> str:
    """Crude tag stripping for input libxml2 refuses outright."""
    without_code = _SCRIPT_BLOCK.sub(" ", value)
    return html.unescape(_TAG.sub(" ", without_code))


def _tidy_lines(raw: str) -> str:
    """Collapse spaces within lines and keep at most one blank line between paragraphs.

    Lines are separated by NUL here. Everything is done with whole-string str methods (one
    C-level pass each) rather than a loop over lines: this runs on every description.
    """
    if _has_invisible(raw):
        raw = raw.translate(_TEXT_TABLE)
    text = " ".join(raw.split())  # NUL is not whitespace, so line breaks survive
    text = text.replace(" " + _BREAK_MARK, _BREAK_MARK).replace(_BREAK_MARK + " ", _BREAK_MARK)
    empty_item = _BREAK_MARK + "-" + _BREAK_MARK
    text = _BREAK_MARK + text + _BREAK_MARK
    while empty_item in text:
        text = text.replace(empty_item, _BREAK_MARK)
    while _BREAK_MARK * 3 in text:
        text = text.replace(_BREAK_MARK * 3, _BREAK_MARK * 2)
    return text.strip(_BREAK_MARK).replace(_BREAK_MARK, "\n")
