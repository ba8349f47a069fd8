"""Optional access control: a bearer token or basic credentials checked against scrypt hashes, and
per-feed URL tokens for feed readers that cannot send headers.

Only hashes are configured, so a leaked configuration file does not leak the credentials. A
feed's token is an HMAC of its own path under `web.auth.feed_key`: handing one feed's URL to a
reader exposes that feed and nothing else.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from collections.abc import Callable
from functools import lru_cache

from starlette.datastructures import QueryParams
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from rolewatch.config import Config, WebAuth

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
#: Paths anyone may read even when access control is on: the stylesheet and icon, and the daemon's
#: health and metrics endpoints (probes and Prometheus carry no credentials, as before).
PUBLIC_PATHS = ("/static/", "/favicon.ico", "/healthz", "/metrics")


def hash_secret(secret: str, *, salt: bytes | None = None) -> str:
    """`scrypt$N$r$p$salt$hash`, the form `web.auth.token` and `web.auth.password` take."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    encode = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${encode(salt).decode()}${encode(digest).decode()}"


@lru_cache(maxsize=256)
def verify_secret(secret: str, stored: str) -> bool:
    """Whether `secret` hashes to `stored`; cached, as scrypt is slow on purpose and a browser sends
    the same credentials with every request."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            secret.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(actual, expected)


def feed_token(feed_key: str, path: str) -> str:
    """The token that opens the feed at `path` (and only it)."""
    return hmac.new(feed_key.encode(), path.encode(), hashlib.sha256).hexdigest()[:32]


def auth_enabled(auth: WebAuth) -> bool:
    return bool(auth.token or (auth.username and auth.password))


def authorized(auth: WebAuth, header: str | None) -> bool:
    """A request's `Authorization` header against the configured bearer token or basic credentials."""
    if not header:
        return False
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and auth.token:
        return verify_secret(value, auth.token)
    if scheme.lower() == "basic" and auth.username and auth.password:
        try:
            user, _, password = base64.b64decode(value, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return hmac.compare_digest(user.encode(), auth.username.encode()) and verify_secret(
            password, auth.password
        )
    return False


def feed_token_valid(auth: WebAuth, path: str, token: str | None) -> bool:
    if not auth.feed_key or not token or not path.startswith("/feeds/"):
        return False
    return hmac.compare_digest(token, feed_token(auth.feed_key, path))


class AccessControl:
    """Refuses every request without valid credentials while `web.auth` is configured."""

    def __init__(self, app: ASGIApp, config_getter: Callable[[], Config]) -> None:
        self.app = app
        self.config_getter = config_getter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._allowed(scope):
            await self.app(scope, receive, send)
            return
        auth = self.config_getter().web.auth
        challenge = 'Basic realm="rolewatch"' if auth.username else 'Bearer realm="rolewatch"'
        response = PlainTextResponse(
            "authentication required", status_code=401, headers={"WWW-Authenticate": challenge}
        )
        await response(scope, receive, send)

    def _allowed(self, scope: Scope) -> bool:
        auth = self.config_getter().web.auth
        path: str = scope["path"]
        if not auth_enabled(auth) and not auth.feed_key:
            return True
        if path.startswith(PUBLIC_PATHS):
            return True
        if not auth_enabled(auth):
            return True
        token = QueryParams(scope.get("query_string", b"")).get("token")
        if feed_token_valid(auth, path, token):
            return True
        headers = dict(scope["headers"])
        header = headers.get(b"authorization")
        return authorized(auth, header.decode("latin-1") if header else None)
