"""Canonical posting URLs: absolute, tracking-free and stable, so one role has one address."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

_TRACKING_PARAMS: Final = frozenset(
    {
        "gh_src", "gclid", "fbclid", "mc_cid", "mc_eid", "ref", "referrer", "source",
        "lever-source", "lever-origin", "_hsenc", "_hsmi", "trk", "src", "msclkid", "yclid",
        "dclid", "igshid", "_ga", "_gl",
    }
)  # fmt: skip
_TRACKING_PREFIXES: Final = ("utm_",)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_LAYOUT_WHITESPACE: Final = re.compile(r"[\t\r\n]+")
# Most boards' URLs are already canonical but for their tracking parameters: a lowercase host
# whose last label starts with a letter (never an IP address), a path of unreserved characters
# with no dot segments, and plain `name=value` parameters. For these, splitting, rebuilding and
# `canonicalize_url` (most of this module's cost) change nothing.
_PLAIN_URL: Final = re.compile(
    r"(?P<address>https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z][a-z0-9-]*"
    r"(?:(?:/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)+/?|/))"
    r"(?:\?(?P<query>[A-Za-z0-9_.-]+=[A-Za-z0-9_.-]*(?:&[A-Za-z0-9_.-]+=[A-Za-z0-9_.-]*)*))?"
)


def canonical_url(url: str | None, base: str | None = None) -> str | None:
    """The one spelling of a posting's address, or None when it is not a usable web URL.

    Identity falls back to this URL for boards without ids, so anything that varies between
    visits of the same page (tracking parameters, parameter order, fragment, host case,
    default port) is removed. Meaningful parameters such as Greenhouse's `gh_jid` stay.
    Route-style fragments (`#/jobs/12`, `#!/jobs/12`) are kept: on single-page boards they
    are the only thing telling two postings apart.
    """
    if not url:
        return None
    plain = None if base else _PLAIN_URL.fullmatch(url)
    if plain is not None:
        return _plain_canonical(plain["address"], plain["query"])
    return _canonical(url, base)


def _canonical(url: str, base: str | None) -> str | None:
    """The general path, for any URL a board may send."""
    candidate = _LAYOUT_WHITESPACE.sub("", url).strip().replace("&amp;", "&")
    if not candidate:
        return None
    try:
        absolute = _absolute(candidate, base)
        if absolute is None:
            return None
        parts = urlsplit(absolute)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        if scheme not in _DEFAULT_PORTS or not host:
            return None
        port = parts.port
    except ValueError:  # a malformed IPv6 host or port number
        return None
    netloc = _netloc(host, port, scheme, parts.username, parts.password)
    fragment = parts.fragment if parts.fragment.startswith(("/", "!")) else ""
    rebuilt = urlunsplit((scheme, netloc, parts.path or "/", _strip_tracking(parts.query), fragment))
    try:
        return canonicalize_url(rebuilt, keep_fragments=bool(fragment))
    except (ValueError, UnicodeError):
        return None


def _plain_canonical(address: str, query: str | None) -> str:
    """What the general path makes of a `_PLAIN_URL`: the same address, tracking parameters
    dropped and the rest sorted by name, then value, as `canonicalize_url` sorts them."""
    if not query:
        return address
    pairs = sorted(
        (name, value)
        for name, _, value in (pair.partition("=") for pair in query.split("&"))
        if not _is_tracking(name)
    )
    return address + "?" + "&".join(f"{name}={value}" for name, value in pairs) if pairs else address


def _absolute(url: str, base: str | None) -> str | None:
    if url.startswith("//") and not base:
        return "https:" + url  # scheme-relative links on https boards
    if base:
        return urljoin(base.strip(), url)
    return url


def _netloc(host: str, port: int | None, scheme: str, user: str | None, password: str | None) -> str:
    shown_host = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        shown_host = f"{shown_host}:{port}"
    if user:
        credentials = f"{user}:{password}" if password else user
        return f"{credentials}@{shown_host}"
    return shown_host


def _strip_tracking(query: str) -> str:
    """Drop tracking parameters while leaving the rest byte-for-byte as the board wrote them."""
    if not query:
        return ""
    kept = [pair for pair in query.split("&") if pair and not _is_tracking(pair.split("=", 1)[0])]
    return "&".join(kept)


@lru_cache(maxsize=4096)
def _is_tracking(raw_key: str) -> bool:
    """Cached: a board's every posting URL carries the same few parameter names."""
    key = unquote_plus(raw_key).strip().lower()
    return key in _TRACKING_PARAMS or key.startswith(_TRACKING_PREFIXES)
