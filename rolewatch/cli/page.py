"""One web page read for `rolewatch add`: http(s) only, redirects kept on the web, size- and time-limited.

Its own module so that the command line imports `urllib.request` (HTTP, e-mail parsing, TLS) only
when a page is actually fetched.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from rolewatch import __version__
from rolewatch.cli.common import RuntimeFailure

#: The most of a page read when looking for an embedded board.
MAX_PAGE_BYTES = 2 * 1024 * 1024
FETCH_TIMEOUT_S = 20.0


class _WebOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> Any:
        if urlsplit(newurl).scheme.lower() not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl, code, f"redirect to a non-web address {newurl!r}", headers, fp
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def fetch_page(url: str) -> tuple[str, str]:
    """The page's text and its address after redirects: http(s) only, at most MAX_PAGE_BYTES, time-limited."""
    address = url.strip() if "://" in url else f"https://{url.strip()}"
    handlers: list[urllib.request.BaseHandler] = [_WebOnlyRedirects()]
    if (urlsplit(address).hostname or "").lower() in ("localhost", "127.0.0.1", "::1"):
        handlers.append(urllib.request.ProxyHandler({}))  # a proxy cannot reach this machine's loopback
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(
        address, headers={"User-Agent": f"rolewatch/{__version__} (add)", "Accept": "text/html, */*;q=0.5"}
    )
    try:
        with opener.open(request, timeout=FETCH_TIMEOUT_S) as response:
            body = response.read(MAX_PAGE_BYTES + 1)
            charset = response.headers.get_content_charset() or "utf-8"
            final_url = response.geturl()
    except urllib.error.HTTPError as error:
        raise RuntimeFailure(f"{url}: cannot read the page: HTTP {error.code} {error.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        raise RuntimeFailure(f"{url}: cannot read the page: {reason}") from None
    if len(body) > MAX_PAGE_BYTES:
        body = body[:MAX_PAGE_BYTES]  # the head of a huge page still holds its links and markup
    try:
        return body.decode(charset, errors="replace"), final_url
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace"), final_url
