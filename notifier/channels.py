"""Notification channels: apprise URLs validated, redacted, described and sent to, one channel at a time."""

from __future__ import annotations

import contextvars
import hashlib
import logging
import re
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from notifier.messages import Message, MessageFormat
from rolewatch import logs
from rolewatch.redaction import (
    MASK,
    SECRET_KEY,
    SECRET_PREFIXES,
    URL_IN_TEXT,
    mask_elided,
    mask_query,
    redact_url,
    split_url,
)

SEND_TIMEOUT_S = 30.0
"""The longest one send may take, connection, retries and all."""

IDEMPOTENCY_HEADER = "Idempotency-Key"
"""The header a webhook request carries: the same on every retry of one outbox row's message."""

# apprise's generic webhooks: the services whose requests rolewatch adds its own header to.
_WEBHOOK_SCHEMES = frozenset({"json", "jsons", "form", "forms", "xml", "xmls"})

# Chat services that render Markdown: they get Markdown even where apprise declares plain text
# (Mattermost, Zulip, Revolt render what they are sent), so links and emphasis survive.
_MARKDOWN_SCHEMES = frozenset(
    {
        "slack",
        "discord",
        "tgram",
        "matrix",
        "matrixs",
        "mmost",
        "mmosts",
        "rocket",
        "rockets",
        "zulip",
        "gchat",
        "guilded",
        "revolt",
        "workflow",
        "workflows",
        "wxteams",
        "webex",
    }
)

# Chat services that render Markdown in whatever they are sent: a `?format=text` on their URL still
# gets escaped Markdown, since plain text there would leave board content live.
_ALWAYS_MARKDOWN = frozenset(
    {"discord", "guilded", "revolt", "mmost", "mmosts", "rocket", "rockets", "zulip", "gchat"}
    | {"workflow", "workflows"}
)

# Services whose apprise plugin pastes the title into the text it renders (Discord and Guilded send
# `title\r\nbody`, Revolt the same or an embed title, Teams workflows a Markdown heading block).
# To rolewatch they are channels without a title of their own: the title is escaped exactly as the
# body and the body leaves room for it. Every other plugin treats its title as plain text (Slack and
# Matrix escape it themselves; ntfy, Zulip, e-mail and the webhooks show it as a plain field).
_TITLE_IN_TEXT = frozenset({"discord", "guilded", "revolt", "workflow", "workflows"})

_HOSTNAME = re.compile(r"(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])(?::\d+)?")
_TOKEN_LIKE = re.compile(r"(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{16,}|[^/?#&=]{32,}")
_SECRET_TOKEN_SPLIT = re.compile(r"[/:@?&=#;,\s]+")


@dataclass(frozen=True)
class SendOutcome:
    """What one send to one channel came to; `detail` is readable and never holds a secret."""

    ok: bool
    detail: str


# ------------------------------------------------------------------------------------------------
# Keeping secrets out of apprise's log lines
# ------------------------------------------------------------------------------------------------


@dataclass
class _LogScope:
    """The channel being handled in this context: its secrets, and where to keep apprise's lines
    instead of logging them (None: log them, redacted)."""

    secrets: frozenset[str] = frozenset()
    captured: list[str] | None = None


_scope: contextvars.ContextVar[_LogScope | None] = contextvars.ContextVar("rolewatch_channel", default=None)
# Set while apprise parses a URL for `redact`: what it logs then is redacted without asking it again.
_redacting: contextvars.ContextVar[bool] = contextvars.ContextVar("rolewatch_redacting", default=False)


class _RedactApprise(logging.Filter):
    """Rewrites every apprise log record with URLs and the current channel's secrets masked.

    Apprise prints URLs it cannot parse verbatim and custom header values even in privacy mode;
    this filter sits on apprise's logger, so its own per-service capture sees the redacted text
    too. The scope travels into apprise's worker threads with the context.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        scope = _scope.get()
        try:
            message = record.getMessage()
        except Exception:
            message = str(record.msg)
        record.msg = redact_text(message, scope.secrets if scope else frozenset())
        record.args = ()
        if scope is not None and scope.captured is not None:
            if record.levelno >= logging.WARNING:
                scope.captured.append(record.msg)
            return False
        return True


_APPRISE_LOGGER = logging.getLogger("apprise")
if not any(isinstance(f, _RedactApprise) for f in _APPRISE_LOGGER.filters):
    _APPRISE_LOGGER.addFilter(_RedactApprise())


@contextmanager
def _channel_scope(url: str, *, capture: bool) -> Iterator[_LogScope]:
    scope = _LogScope(_secrets_of(url), [] if capture else None)
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)


# ------------------------------------------------------------------------------------------------
# Redaction
# ------------------------------------------------------------------------------------------------


def redact(url: str) -> str:
    """The URL with every secret part shown as `****`: apprise's privacy URL where apprise can parse
    it, with every part apprise elided (`1...0`), every header (`+`), query (`-`), payload (`:`)
    and credential-like parameter and every token-like path part masked besides; where apprise
    cannot parse it, a cautious reading of the URL alone (`rolewatch.redaction.redact_url`).

    The one redaction of a channel URL: the CLI, the database, errors and log lines all use it.
    """
    return _redact(str(url).strip())


@lru_cache(maxsize=256)
def _redact(text: str) -> str:
    token = _redacting.set(True)
    try:
        with _quiet():
            plugin = _instantiate(text)
    finally:
        _redacting.reset(token)
    if plugin is None:
        return redact_url(text)
    try:
        private = str(plugin.url(privacy=True))
    except Exception:
        return redact_url(text)
    return _tidy_private_url(mask_elided(private), _query_keys(text))


def redact_text(text: str, secrets: frozenset[str] = frozenset()) -> str:
    """Free text (a log line, an error) with every URL in it redacted, and the given secret strings
    masked. A URL of an apprise service is shown exactly as `redact` shows it; any other URL (a web
    page, a database) is read alone, which also keeps apprise from being asked about every board
    URL a crawl logs, and from being asked again while it logs about a URL it is parsing."""
    text = URL_IN_TEXT.sub(lambda m: _redact_in_text(m.group(0)), text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text


def _redact_in_text(url: str) -> str:
    scheme = url.partition("://")[0].lower()
    if _redacting.get() or scheme in ("http", "https") or scheme not in _apprise_schemes():
        return redact_url(url)
    return redact(url)


@lru_cache(maxsize=1)
def _apprise_schemes() -> frozenset[str]:
    manager: Any = _apprise().manager_plugins.NotificationManager()
    return frozenset(str(scheme).lower() for scheme in manager.schemas())


@contextmanager
def _quiet() -> Iterator[None]:
    token = _scope.set(_LogScope(captured=[]))
    try:
        yield
    finally:
        _scope.reset(token)


def _query_keys(text: str) -> frozenset[str]:
    parts = split_url(text)
    if parts is None or not parts[3]:
        return frozenset()
    keys = (pair.partition("=")[0] for pair in parts[3].split("&") if pair)
    return frozenset(unquote(key.replace("+", "%2B")).lower() for key in keys)


def _tidy_private_url(private: str, keep: frozenset[str]) -> str:
    """Apprise's privacy URL with only the parameters the user wrote, secret ones masked, and path
    parts that look like tokens masked (generic webhooks keep their path as written)."""
    parts = split_url(private)
    if parts is None:
        return MASK
    scheme, netloc, path, query, fragment = parts
    userinfo, at, host = netloc.rpartition("@")
    if not _HOSTNAME.fullmatch(host) and host != MASK:
        host = MASK if host else ""
    netloc = f"{userinfo}{at}{host}"
    path = "/".join(MASK if _TOKEN_LIKE.fullmatch(unquote(s)) else s for s in path.split("/"))
    result = f"{scheme}://{netloc}{path.rstrip('/')}" + ("/" if path.endswith("/") else "")
    query = mask_query(query, keep)
    if query:
        result += "?" + query
    if fragment:
        result += "#" + fragment
    return result


def _secrets_of(url: str) -> frozenset[str]:
    """Every piece of the URL that its redacted form hides: to be masked wherever it turns up."""
    shown = set(_SECRET_TOKEN_SPLIT.split(unquote(redact(url))))
    secrets: set[str] = set()
    for piece in (url, unquote(url)):
        for token in _SECRET_TOKEN_SPLIT.split(piece):
            if len(token) >= 4 and token not in shown:
                secrets.add(token)
    parts = split_url(url.strip())
    if parts is not None:
        for pair in parts[3].split("&"):
            name, _, value = pair.partition("=")
            if value and (name.startswith(SECRET_PREFIXES) or SECRET_KEY.search(name)):
                secrets.update({value, unquote(value)} - {""})
        userinfo = parts[1].rpartition("@")[0]
        password = userinfo.partition(":")[2]
        if password:
            secrets.update({password, unquote(password)})
    secrets.discard(MASK)
    return frozenset(secrets)


# ------------------------------------------------------------------------------------------------
# What a channel is
# ------------------------------------------------------------------------------------------------


@cache
def _apprise() -> Any:
    """apprise, imported when a channel is first checked or sent to: a crawl writes outbox rows but
    never sends, and apprise with its plugins costs a command ~50 ms to import.

    apprise's e-mail plugin imports imghdr, deprecated since Python 3.11, when apprise first loads
    its plugins; where warnings are errors (our tests) that import fails and apprise silently goes
    without e-mail. Importing it here, with that one warning ignored, keeps e-mail available.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="'imghdr' is deprecated", category=DeprecationWarning)
        import apprise
        import apprise.manager_plugins
        import apprise.utils.pgp
    return apprise


@cache
def _asset() -> Any:
    return _apprise().AppriseAsset(
        app_id="rolewatch",
        app_desc="rolewatch job alerts",
        app_url="https://github.com/rolewatch/rolewatch",
        async_mode=False,
    )


def _instantiate(url: str) -> Any:
    """The apprise plugin for `url`, or None when apprise cannot load it (unknown, malformed, disabled)."""
    try:
        return _apprise().Apprise.instantiate(url, asset=_asset(), suppress_exceptions=True)
    except Exception:
        return None


def validate_channel(url: str) -> None:
    """Raise ValueError, naming the URL only in redacted form, unless apprise can load it."""
    _load(url)


def _load(url: str) -> Any:
    """The apprise plugin for `url`; a ValueError with apprise's (redacted) reason when there is none."""
    if not isinstance(url, str) or not url.strip():
        raise ValueError("a channel needs an apprise URL, such as mailto://… or slack://…")
    text = url.strip()
    if split_url(text) is None:
        raise ValueError("a channel must be an apprise URL (scheme://…), such as mailto://… or slack://…")
    with _channel_scope(text, capture=True) as scope:
        plugin = _instantiate(text)
    if plugin is None:
        reason = "; ".join(dict.fromkeys(scope.captured or [])) or "unknown service or malformed URL"
        raise ValueError(f"not a usable apprise URL: {redact(text)} ({reason})")
    return plugin


def channel_key(url: str) -> str:
    """A stable 16-hex id for a channel that does not reveal it (blake2b of the URL, personalised)."""
    digest = hashlib.blake2b(url.strip().encode("utf-8"), digest_size=8, person=b"rolewatch-chan")
    return digest.hexdigest()


@dataclass(frozen=True)
class _Profile:
    schemes: frozenset[str]
    formats: tuple[str, ...]
    override: str | None
    title_maxlen: int
    body_maxlen: int


@lru_cache(maxsize=512)
def _profile(url: str) -> _Profile:
    plugin = _load(url)
    declared = plugin.notify_format
    formats = declared if isinstance(declared, (tuple, list)) else (declared,)
    override = getattr(plugin, "_format_override", None)
    return _Profile(
        schemes=_profile_schemes(plugin),
        formats=tuple(str(getattr(f, "value", f)) for f in formats),
        override=str(getattr(override, "value", override)) if override else None,
        title_maxlen=int(plugin.title_maxlen),
        body_maxlen=int(plugin.body_maxlen),
    )


def channel_format(url: str) -> MessageFormat:
    """HTML for e-mail, Markdown for chat services that render it, plain text for the rest.

    A `?format=` the user put on the URL wins when the service supports it, except plain text on a
    service that renders Markdown whatever it is sent.
    """
    profile = _profile(url)
    if profile.override == MessageFormat.TEXT and profile.schemes & _ALWAYS_MARKDOWN:
        return MessageFormat.MARKDOWN
    if profile.override in profile.formats and profile.override in {f.value for f in MessageFormat}:
        return MessageFormat(profile.override)
    if profile.schemes & _MARKDOWN_SCHEMES:
        return MessageFormat.MARKDOWN
    if profile.formats[0] == MessageFormat.HTML:
        return MessageFormat.HTML
    if profile.formats == (MessageFormat.MARKDOWN.value,):
        return MessageFormat.MARKDOWN
    return MessageFormat.TEXT


def channel_limits(url: str) -> tuple[int, int]:
    """(title_maxlen, body_maxlen) of the channel's apprise plugin; a title_maxlen of 0 means the
    title is part of the message text (apprise puts it in front of the body, or the service pastes
    it into the text it renders), so it is escaped and counted like the body."""
    profile = _profile(url)
    title_maxlen = 0 if profile.schemes & _TITLE_IN_TEXT else profile.title_maxlen
    return title_maxlen, profile.body_maxlen


# ------------------------------------------------------------------------------------------------
# Sending
# ------------------------------------------------------------------------------------------------


def send(
    url: str, message: Message, *, timeout_s: float = SEND_TIMEOUT_S, idempotency_key: str | None = None
) -> SendOutcome:
    """Send one message to one channel and say how it went; never raises for a delivery problem.

    The whole send is bounded by `timeout_s`: apprise stops waiting then (TIMEOUT), and the
    plugin's own socket time-outs are capped by it so no worker thread outlives it for long.
    A webhook (json://, form://, xml://) request carries `idempotency_key` as its
    `Idempotency-Key` header, so a receiver can drop the repeat of a send that timed out.
    """
    if not timeout_s > 0:
        raise ValueError(f"timeout_s must be positive, not {timeout_s!r}")
    text = url.strip()
    with _channel_scope(text, capture=False) as scope:
        try:
            return _send(text, message, timeout_s, idempotency_key)
        except Exception as error:
            detail = f"{type(error).__name__}: {error}"
            return SendOutcome(False, redact_text(detail, scope.secrets))


def _send(url: str, message: Message, timeout_s: float, idempotency_key: str | None) -> SendOutcome:
    plugin = _instantiate(url)
    if plugin is None:
        return SendOutcome(False, f"not a usable apprise URL: {redact(url)}")
    if idempotency_key:
        _add_idempotency_key(plugin, idempotency_key)
    for attribute in ("socket_connect_timeout", "socket_read_timeout"):
        current = float(getattr(plugin, attribute, timeout_s) or timeout_s)
        setattr(plugin, attribute, min(current, timeout_s))
    _configured_pings_only(plugin)
    _add_data(plugin, message)
    notifier = _apprise().Apprise(asset=_asset())
    notifier.add(plugin)
    result = notifier.notify(
        body=message.body,
        title=message.title,
        body_format=_input_format(plugin, message.format),
        timeout=timeout_s,
    )
    with result:
        return _outcome(result, _scope_secrets())


#: The apprise webhooks that post a JSON object, to which a message's structured data is added.
JSON_SCHEMES = frozenset({"json", "jsons"})


def carries_data(url: str) -> bool:
    """Whether a channel receives an alert's structured fields (json:// and jsons:// webhooks)."""
    return urlsplit(url.strip()).scheme.lower() in JSON_SCHEMES


def _add_data(plugin: Any, message: Message) -> None:
    """A json:// webhook's object gets the message's `data` (event, posting) beside title and message,
    through the plugin's own payload extras (what `:key=value` in its URL sets)."""
    extras = getattr(plugin, "payload_extras", None)
    if message.data and _profile_schemes(plugin) & JSON_SCHEMES and isinstance(extras, dict):
        plugin.payload_extras = {**extras, **message.data}


def _add_idempotency_key(plugin: Any, key: str) -> None:
    """The webhook plugins send their `headers` with every request; ours replaces a user's own
    `+Idempotency-Key`, which, being the same for every message, would make receivers drop them all."""
    headers = getattr(plugin, "headers", None)
    if _profile_schemes(plugin) & _WEBHOOK_SCHEMES and isinstance(headers, dict):
        for name in [name for name in headers if str(name).lower() == IDEMPOTENCY_HEADER.lower()]:
            del headers[name]
        headers[IDEMPOTENCY_HEADER] = key


def _profile_schemes(plugin: Any) -> frozenset[str]:
    schemes: set[str] = set()
    for attribute in ("protocol", "secure_protocol"):
        value = getattr(plugin, attribute, None)
        schemes.update([value] if isinstance(value, str) else list(value or ()))
    return frozenset(s.lower() for s in schemes)


def _configured_pings_only(plugin: Any) -> None:
    """Only the URL's own `ping=` pings. Apprise's Discord family, in embed mode (`?format=markdown`),
    pings every `@word`, `@123` and `<@&123>` it finds in the body, escaped or not: board text
    would choose whom to ping (or, with `@careers`, get the request refused)."""
    detect = getattr(plugin, "ping_payload", None)
    if detect is None:
        return
    configured = " ".join(str(target) for target in getattr(plugin, "ping", None) or ())

    def pings(*_texts: str) -> Any:
        return detect(configured) if configured else {}

    plugin.ping_payload = pings


def _input_format(plugin: Any, format: MessageFormat) -> str:
    """What to tell apprise the body is. Markdown that the service will receive as plain text (it
    declares only text, or its URL asks for text) is passed as text, so apprise does not convert
    it: converting would flatten it, and undo its escapes, on services that render it anyway."""
    target = plugin.resolve_format(format.value)
    if format is MessageFormat.MARKDOWN and str(getattr(target, "value", target)) == MessageFormat.TEXT:
        return MessageFormat.TEXT.value
    return format.value


def _scope_secrets() -> frozenset[str]:
    scope = _scope.get()
    return scope.secrets if scope else frozenset()


def _outcome(result: Any, secrets: frozenset[str]) -> SendOutcome:
    services = list(result)
    ok = bool(result) and bool(services)
    status = result.status.name
    if not services:
        return SendOutcome(False, f"{status}: apprise sent nothing")
    service = services[0]
    lines = list(dict.fromkeys(entry.message for entry in service.logs()))
    summary = f"{service.name} {service.status.name} in {service.elapsed:.1f}s"
    if len(service.attempts) > 1:
        summary += f" after {len(service.attempts)} attempts"
    detail = summary + (": " + "; ".join(lines) if lines else "")
    return SendOutcome(ok, redact_text(detail, secrets))


# Log lines show a channel URL as the CLI does; `rolewatch.logs`, below the stages, is handed the rule.
logs.redact_channels_with(redact_text)
