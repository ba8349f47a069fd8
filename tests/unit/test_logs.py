"""Log output: JSON lines a collector can parse, readable text on a terminal, no channel secret anywhere."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from rolewatch.logs import RedactSecrets, configure_logging, redact, redact_url

PASSWORD = "app-password-9f3k2"
BOT_TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
MAILTO = f"mailto://me:{PASSWORD}@gmail.com"
TELEGRAM = f"tgram://{BOT_TOKEN}/987654321"
SECRETS = (PASSWORD, BOT_TOKEN, "AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw")


@pytest.fixture
def output() -> Iterator[io.StringIO]:
    """Where the configured handler writes; the root logger is put back as it was afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    stream = io.StringIO()
    yield stream
    for handler in root.handlers:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


def json_lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def test_json_lines_parse_with_time_level_logger_message_and_extra_fields(output: io.StringIO) -> None:
    configure_logging("json", level=logging.INFO, stream=output)
    logging.getLogger("rolewatch.scheduler").info(
        "crawl of %s: %s", "stripe", "complete", extra={"events": 3}
    )
    logging.getLogger("rolewatch.scheduler").debug("not shown at INFO")

    [entry] = json_lines(output)
    assert entry["level"] == "INFO"
    assert entry["logger"] == "rolewatch.scheduler"
    assert entry["message"] == "crawl of stripe: complete"
    assert entry["events"] == 3
    assert isinstance(entry["ts"], str) and entry["ts"].endswith("Z")


def test_json_lines_carry_the_exception(output: io.StringIO) -> None:
    configure_logging("json", stream=output)
    try:
        raise RuntimeError("board answered 500")
    except RuntimeError:
        logging.getLogger("rolewatch").exception("crawl failed")

    [entry] = json_lines(output)
    assert entry["level"] == "ERROR"
    assert "RuntimeError: board answered 500" in str(entry["exception"])


def test_text_lines_are_readable(output: io.StringIO) -> None:
    configure_logging("text", stream=output)
    logging.getLogger("rolewatch.http").warning("database slow: %.1fs", 2.5)

    line = output.getvalue().strip()
    assert line.endswith("WARNING  rolewatch.http: database slow: 2.5s")
    assert line[:4].isdigit()


def test_verbose_logs_debugging_detail(output: io.StringIO) -> None:
    configure_logging("text", verbose=True, stream=output)
    logging.getLogger("rolewatch").debug("detail")
    assert "detail" in output.getvalue()


def test_configuring_again_replaces_the_handler(output: io.StringIO) -> None:
    configure_logging("text", stream=io.StringIO())
    configure_logging("json", stream=output)
    logging.getLogger("rolewatch").warning("once")
    assert len(json_lines(output)) == 1
    assert sum(h.get_name() == "rolewatch" for h in logging.getLogger().handlers) == 1


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format"):
        configure_logging("xml")


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_in_the_message_and_its_arguments_are_redacted(output: io.StringIO, fmt: str) -> None:
    configure_logging(fmt, stream=output)
    log = logging.getLogger("rolewatch.notifier")
    log.warning(f"cannot reach {MAILTO}")
    log.warning("cannot reach %s or %r", TELEGRAM, MAILTO)
    log.warning("channels: %s", [MAILTO, TELEGRAM])

    text = output.getvalue()
    assert_no_secret(text)
    assert "gmail.com" in text and "tgram://" in text


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_secrets_in_exceptions_and_extra_fields_are_redacted(output: io.StringIO, fmt: str) -> None:
    configure_logging(fmt, stream=output)
    log = logging.getLogger("rolewatch.notifier")
    try:
        raise ConnectionError(f"send to {TELEGRAM} failed")
    except ConnectionError:
        log.exception("delivery failed", extra={"channel": MAILTO, "channels": [TELEGRAM]})

    text = output.getvalue()
    assert "ConnectionError: send to tgram://" in text
    assert_no_secret(text)


def test_a_message_whose_arguments_do_not_fit_is_still_redacted() -> None:
    record = logging.LogRecord("rolewatch", logging.WARNING, __file__, 1, "%s and %s", (MAILTO,), None)
    assert RedactSecrets().filter(record)
    assert "gmail.com" in record.getMessage()
    assert_no_secret(record.getMessage())


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (MAILTO, "gmail.com"),
        (TELEGRAM, "tgram://"),
        ("postgresql+psycopg://rolewatch:s3cret-pw@db.example:5432/rolewatch", "db.example:5432"),
        ("https://hooks.slack.com/services/T0AAAAAA/B0BBBBBB/abcdefghijklmnopqrstuvwx", "hooks.slack.com"),
    ],
)
def test_the_fallback_redaction_keeps_scheme_and_host_only(url: str, kept: str) -> None:
    redacted = redact_url(url)
    assert kept in redacted
    for secret in (*SECRETS, "s3cret-pw", "abcdefghijklmnopqrstuvwx"):
        assert secret not in redacted


def test_redaction_leaves_plain_text_alone() -> None:
    assert redact("crawl of stripe: 12 postings, 0 errors") == "crawl of stripe: 12 postings, 0 errors"
