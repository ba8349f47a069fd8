"""Log output for every command: readable lines on a terminal, JSON lines for collectors, secrets masked.

Channel URLs carry passwords and tokens (`mailto://me:app-password@…`, `tgram://bot-token/…`) and any
library may put one in a log line, so every record reaching rolewatch's handler is redacted first:
its message with the arguments merged in, its exception and stack text, and its extra fields.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TextIO

from rolewatch import redaction
from rolewatch.redaction import URL_IN_TEXT

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-8s %(name)s: %(message)s"
TEXT_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"

#: A URL of any scheme: an apprise channel, a database URL, a webhook.
URL = URL_IN_TEXT

#: Attributes every LogRecord has; anything else on a record came from `extra=`.
_RECORD_ATTRIBUTES = frozenset(
    vars(logging.LogRecord("", logging.INFO, "", 0, "", None, None)).keys()
    | {"message", "asctime", "taskName"}
)


def redact_url(url: str) -> str:
    """A URL redacted by reading it alone, with the one mask rolewatch uses everywhere (`****`).

    `mailto://me:pw@gmail.com` → `mailto://me:****@gmail.com`; `tgram://bot-token/chat` → `tgram://****/chat`.
    """
    return redaction.redact_url(url)


#: The notifier's redaction of free text, once it is loaded (`redact_channels_with`).
_channel_redaction: list[Callable[[str], str]] = []


def redact_channels_with(redact_text: Callable[[str], str]) -> None:
    """Redact log text as `redact_text` does from now on: the notifier hands in its own when loaded.

    So logs, CLI output and error messages agree on what a secret in a channel URL is, without
    every command (or this module) loading apprise to learn it.
    """
    _channel_redaction[:] = [redact_text]


def redact(text: str) -> str:
    """The text with every URL in it redacted.

    By the notifier's own redaction once it is loaded; until then (or should it fail), every URL
    is masked by `redact_url`.
    """
    try:
        if _channel_redaction:
            return _channel_redaction[0](text)
    except Exception:
        pass
    return URL.sub(lambda match: redact_url(match.group()), text)


class RedactSecrets(logging.Filter):
    """Rewrites each record in place so no handler after it can print a secret.

    The message is rendered with its arguments first (`%s` of any object, not only strings, may
    carry a URL), then redacted; the arguments are dropped so nothing formats them again.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:
            # Logging reports a bad format string itself, printing the arguments: keep them masked.
            message = f"{record.msg!s} (arguments that did not fit: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _RECORD_ATTRIBUTES:
                setattr(record, name, _redact_value(value))
        return True


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, dict):
        return {str(key): _redact_value(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(item) for item in value]
    return redact(str(value))


class JSONFormatter(logging.Formatter):
    """One JSON object per line: `ts` (ISO 8601 UTC), `level`, `logger`, `message`, then the rest."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and name not in entry:
                entry[name] = value
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(
    fmt: str = "text", verbose: bool = False, *, level: int | None = None, stream: TextIO | None = None
) -> None:
    """Send every log record to stderr (or `stream`) as text or JSON lines, secrets redacted.

    The level is WARNING, DEBUG with `verbose`, or `level` when given (the daemon wants INFO).
    Calling it again replaces the handler it installed before rather than adding a second one.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r}; use one of {', '.join(FORMATS)}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.set_name("rolewatch")
    handler.addFilter(RedactSecrets())
    if fmt == "json":
        handler.setFormatter(JSONFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT, TEXT_DATE_FORMAT))
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == "rolewatch"]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level if level is not None else logging.DEBUG if verbose else logging.WARNING)
