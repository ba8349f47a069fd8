"""The one way rolewatch hides a URL's secrets by reading it alone: every secret part becomes `****`.

The notifier first asks apprise which parts of a channel URL are secret (`notifier.channels.redact`);
this module is what is left when apprise cannot parse a URL, what logging falls back to before
apprise is loaded, and what turns apprise's own elisions (`1...0`, `...wxyz`) into the same mask.
It imports nothing heavy, so logs and storage can use it.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote

MASK = "****"
"""What every secret part of a URL is shown as, wherever rolewatch shows one."""

URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")
"""A URL of any scheme inside free text: an apprise channel, a database URL, a webhook."""

# Query keys whose value is a credential whatever the service; `+` (HTTP header), `-` (URL query
# of the request) and `:` (payload field) keys of the generic webhooks always are masked too.
SECRET_KEY = re.compile(r"token|key|secret|pass|pwd|auth|sig|cred|bearer|session", re.IGNORECASE)
SECRET_PREFIXES = ("+", "-", ":")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_HOSTNAME = re.compile(r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])(?::\d+)?")
_NUMBER = re.compile(r"[-+]?\d+")
_EMAIL = re.compile(r"[^@\s/]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_WORD = re.compile(r"[A-Za-z_.~-]{1,8}|[A-Za-z0-9]{1,3}")
# A part apprise's privacy mode shortened (`1...0`, `...wxyz`): a secret it chose to half-show.
_ELIDED = re.compile(r"[^/:@?&=#\s]*\.\.\.[^/:@?&=#\s]*")


def split_url(text: str) -> tuple[str, str, str, str, str] | None:
    """(scheme, netloc, path, query, fragment) without urllib's validation, which rejects the very
    URLs (bad ports, stray brackets) that most need redacting."""
    scheme, separator, rest = text.partition("://")
    if not separator or not _SCHEME.fullmatch(scheme):
        return None
    rest, _, fragment = rest.partition("#")
    rest, _, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")
    return scheme, netloc, slash + path, query, fragment


def redact_url(text: str) -> str:
    """A URL redacted by reading it alone: the password, a host that is not a host name, every part
    of the path that could be a token and every credential-like parameter become `****`.

    `mailto://me:pw@gmail.com` → `mailto://me:****@gmail.com`;
    `tgram://123456:ABC-def/987654` → `tgram://****/987654`.
    """
    parts = split_url(text.strip())
    if parts is None:
        return MASK
    scheme, netloc, path, query, fragment = parts
    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, _password = userinfo.partition(":")
        userinfo = _public_or_mask(user) + (f":{MASK}" if colon else "")
    host = hostport if _HOSTNAME.fullmatch(hostport) else (MASK if hostport else "")
    segments = "/".join(_public_or_mask(segment) for segment in path.split("/"))
    result = f"{scheme}://{userinfo}{at}{host}{segments}"
    if query:
        result += "?" + mask_query(query)
    if fragment:
        result += "#" + _public_or_mask(fragment)
    return result


def mask_elided(text: str) -> str:
    """Text (a redacted URL, as older versions stored them) with apprise's elisions shown as `****`."""
    return _ELIDED.sub(MASK, text)


def mask_query(query: str, keep: frozenset[str] | None = None) -> str:
    """A query string with credential-like values masked; only the keys in `keep`, when given."""
    pairs = []
    for pair in query.split("&"):
        if not pair:
            continue
        key, equals, value = pair.partition("=")
        name = unquote(key.replace("+", "%2B"))
        if keep is not None and name.lower() not in keep:
            continue
        if equals and value and (name.startswith(SECRET_PREFIXES) or SECRET_KEY.search(name)):
            value = MASK
        pairs.append(f"{quote(name, safe='+-:')}{equals}{value}")
    return "&".join(pairs)


def _public_or_mask(segment: str) -> str:
    """A part of a URL read alone is shown only if it cannot be a token: a number (a chat id, a
    port), an e-mail address, a short word without digits (`hooks`, `chat-id`) or a very short
    one (`v1`); `B000BBBB` may be half of a token."""
    value = unquote(segment)
    public = (
        not value
        or value == MASK
        or _NUMBER.fullmatch(value) is not None
        or _EMAIL.fullmatch(value) is not None
        or (_WORD.fullmatch(value) is not None and "..." not in value)
    )
    return segment if public else MASK
