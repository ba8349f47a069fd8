"""A board's description as the (sanitised HTML, plain text) pair a posting stores, whatever its form."""

from __future__ import annotations

import re
from html import escape
from typing import Any

from crawler.normalize.text import html_to_text, sanitize_html, unescape_entities

_HTML_TAG = re.compile(r"<(?:[a-zA-Z][a-zA-Z0-9-]*|/[a-zA-Z]|!--)")
_ESCAPED_TAG = re.compile(r"&lt;(?:[a-zA-Z][a-zA-Z0-9-]*|/[a-zA-Z])")
_PARAGRAPH_BREAK = re.compile(r"\n\s*\n")


def describe(value: Any) -> tuple[str, str]:
    """(sanitised HTML, plain text) for a description given as HTML, entity-escaped HTML or plain text."""
    if isinstance(value, list):
        value = "\n\n".join(part for part in value if isinstance(part, str))
    if not isinstance(value, str) or not value.strip():
        return "", ""
    if not _HTML_TAG.search(value) and _ESCAPED_TAG.search(value):
        value = unescape_entities(value)  # HTML escaped once more, as some APIs send it
    return describe_html(value) if _HTML_TAG.search(value) else describe_text(value)


def describe_html(value: str) -> tuple[str, str]:
    """Board HTML as (sanitised HTML, plain text): scripts, styles and handlers never survive."""
    html = sanitize_html(value)
    return html, html_to_text(html)


def describe_text(value: str) -> tuple[str, str]:
    """Plain text as (escaped HTML paragraphs, text); markup-looking text stays text, never markup."""
    paragraphs = [p.strip() for p in _PARAGRAPH_BREAK.split(value.replace("\r\n", "\n")) if p.strip()]
    html = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
    return html, html_to_text(html)
