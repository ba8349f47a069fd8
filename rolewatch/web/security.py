"""What keeps board content harmless in a browser: strict headers on every answer, http(s)-only links,
and description HTML cleaned again at display time.

Everything a board sends is untrusted (SPEC §9a). Jinja2 escapes every string; these are the
other layers: a Content-Security-Policy that allows nothing but this server's own stylesheet and
images (no script at all, so an injected `<script>` or `onerror` could not run even if it slipped
through), links only for http(s) URLs, and descriptions re-sanitised with an allow-list.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = (
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
)
#: Tags a job description may keep; no images, media, forms or styles (they could fetch or mislead).
DESCRIPTION_TAGS = {
    "p", "br", "ul", "ol", "li", "strong", "b", "em", "i", "u", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "code", "pre", "a", "table", "thead", "tbody", "tr", "td", "th", "span", "div",
}  # fmt: skip


class SecurityHeaders:
    """Adds the security headers to every response (pages, feeds, API, errors and static files)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in SECURITY_HEADERS if name not in names]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def safe_url(url: str | None) -> str | None:
    """The URL if it is an absolute http(s) URL with a host; None for `javascript:`, `data:` and the rest."""
    if not url:
        return None
    text = url.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    if any(ord(char) < 0x20 or char in "\"'<>` " for char in text):
        return None
    return text


def clean_description(html: str) -> str:
    """Board HTML reduced to plain formatting and http(s) links that open nothing in this page's context."""
    return nh3.clean(
        html,
        tags=DESCRIPTION_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https"},
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
