"""Whether a markup document arrived whole: lenient parsers read a body cut off mid-transfer without a word.

A server that ends its body by closing the connection (no Content-Length, no chunking) gives HTTP
no way to tell a cut body from a whole one, and HTML and feed parsers repair whatever they are
given. A listing cut mid-list would then parse as a shorter listing and its missing postings
would close. The document's own end is the only witness left: an HTML page that opens `<html>`
or `<body>` closes it, and an XML document ends with its root element's end tag.
"""

from __future__ import annotations

import re
from typing import Final

from crawler.spider import ListingTruncated

_HTML_OPENED: Final = re.compile(rb"<(?:html|body)[\s>/]", re.IGNORECASE)
_HTML_CLOSED: Final = re.compile(rb"</(?:html|body)\s*>", re.IGNORECASE)
#: What may precede an XML document's root element: a BOM, whitespace, the declaration, processing
#: instructions, comments and a doctype (its internal subset included).
_XML_PROLOG: Final = re.compile(
    rb"(?:\xef\xbb\xbf|\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE(?:[^\[>]|\[.*?\])*>)*", re.DOTALL | re.IGNORECASE
)
_XML_ROOT: Final = re.compile(rb"<([^\s/>!?]+)[^>]*?(/?)>", re.DOTALL)
#: What may follow the root's end tag: whitespace, comments (`<!-- served in 3 ms -->`) and PIs.
_XML_EPILOG: Final = rb"\s*>(?:\s|<!--.*?-->|<\?.*?\?>)*\Z"
#: Only the end of a document is searched for its root's end tag (bounded work on huge bodies).
_TAIL_BYTES: Final = 64 * 1024


def html_cut_off(body: bytes) -> str | None:
    """Why an HTML page looks cut off, or None when it closes what it opened (or opens neither).

    A page that never writes `<html>` or `<body>` (a fragment an endpoint returns) gives nothing
    to check; every whole page that does write them also closes one of them.
    """
    if _HTML_OPENED.search(body) is None or _HTML_CLOSED.search(body) is not None:
        return None
    return f"the page ends before its </body> and </html> ({len(body):,} bytes arrived): cut off in transfer?"


def xml_cut_off(body: bytes) -> str | None:
    """Why an XML document looks cut off (it ends before its root element's end tag), or None."""
    prolog = _XML_PROLOG.match(body)
    root = _XML_ROOT.match(body, prolog.end() if prolog else 0)
    if root is None:
        return None  # not XML the parser will take either; it says so itself
    name, self_closed = root.group(1), root.group(2)
    if self_closed:
        return None
    ending = re.compile(rb"</" + re.escape(name) + _XML_EPILOG, re.DOTALL)
    if ending.search(body[-_TAIL_BYTES:]) is not None:
        return None
    tag = name.decode("utf-8", "replace")
    return f"the document ends before its </{tag}> ({len(body):,} bytes arrived): cut off in transfer?"


def check_html_whole(body: bytes) -> None:
    """Raise ListingTruncated for a cut-off HTML page; call it after yielding what the page held."""
    problem = html_cut_off(body)
    if problem is not None:
        raise ListingTruncated(problem)


def check_xml_whole(body: bytes) -> None:
    """Raise ListingTruncated for a cut-off XML document; call it after yielding what it held."""
    problem = xml_cut_off(body)
    if problem is not None:
        raise ListingTruncated(problem)
