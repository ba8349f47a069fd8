"""Channels: apprise URLs validated, redacted so no secret shows, keyed, described by format and limits."""

from __future__ import annotations

import logging
import re

import apprise
import pytest

from notifier.channels import (
    channel_format,
    channel_key,
    channel_limits,
    redact,
    redact_text,
    validate_channel,
)
from notifier.messages import MessageFormat

# url, secrets that must never show, parts that must still show (so the user recognises the channel)
REDACTION_CASES = [
    ("mailto://me:app-password@gmail.com", ["app-password"], ["mailtos://", "me:", "gmail.com"]),
    (
        "mailtos://user:s3cretpw@smtp.example.org:587?from=a@example.org&to=b@example.org",
        ["s3cretpw"],
        ["smtp.example.org", "user:****@"],
    ),
    (
        "slack://T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
        ["T000AAAA", "B000BBBB", "XXXXXXXXXXXX"],
        ["slack://"],
    ),
    (
        "https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
        ["T000AAAA", "B000BBBB", "XXXXXXXXXXXX"],
        ["slack://"],
    ),
    (
        "discord://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        ["1234567890", "abcdefghijklmnop"],
        ["discord://"],
    ),
    (
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654",
        ["AAHdqTcv", "123456789"],
        ["tgram://", "987654"],
    ),
    ("tgram://bot-token/chat-id", ["bot-token"], ["tgram://****/chat-id"]),
    (
        "json://bot:hunter2@127.0.0.1:8766/hooks/jobs?+Authorization=Bearer%20xyz&+X-Token=s3cr3t",
        ["hunter2", "Bearer", "xyz", "s3cr3t"],
        ["json://bot:****@127.0.0.1:8766/hooks/jobs", "+Authorization=****", "+X-Token=****"],
    ),
    ("json://127.0.0.1:8000/hook?-apikey=zz99zz&:secretfield=qq88", ["zz99zz", "qq88"], ["-apikey=****"]),
    ("ntfy://mytopic?token=tk_abcdefghijklmnopqrstuvwxyz123", ["tk_abcdef", "mytopic"], ["ntfy"]),
    ("ntfys://user:pw1234@ntfy.sh/topic", ["pw1234"], ["ntfy.sh"]),
    ("matrix://user:pw5678@matrix.example.org/#room", ["pw5678"], ["matrix.example.org"]),
    (
        "mmost://mattermost.example.org/3ccdd113474722377935511fc85d3dd4",
        ["3ccdd1134747"],
        ["mattermost.example.org"],
    ),
    (
        "notaservice://user:pass1234@foo.example.org/bar",
        ["pass1234"],
        ["notaservice://user:****@foo.example.org"],
    ),
    ("https://user:pass9876@example.org/x", ["pass9876"], ["example.org"]),
    ("json://[::1/tokentokentoken123", ["tokentokentoken123"], ["json://"]),
    ("not a url at all secretsecret", ["secretsecret"], []),
]


@pytest.mark.parametrize(("url", "secrets", "shown"), REDACTION_CASES)
def test_redact_never_shows_a_secret(url: str, secrets: list[str], shown: list[str]) -> None:
    redacted = redact(url)
    for secret in secrets:
        assert secret not in redacted
    for part in shown:
        assert part in redacted


def test_redact_keeps_only_the_parameters_the_user_wrote() -> None:
    assert (
        redact("json://127.0.0.1:8766/hooks?+X-Token=abc123") == "json://127.0.0.1:8766/hooks?+X-Token=****"
    )


def test_redact_text_masks_urls_and_known_secrets_in_free_text() -> None:
    text = "failed for tgram://bot-token/chat-id with token Bearer-abc"
    assert redact_text(text, frozenset({"Bearer-abc"})) == "failed for tgram://****/chat-id with token ****"


@pytest.mark.parametrize(
    "url",
    [
        "mailto://127.0.0.1:2525?from=rolewatch@example.org&to=me@example.org",
        "json://127.0.0.1:8766/hooks/rolewatch",
        "slack://T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
        "discord://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ",
        "tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654",
        "ntfy://mytopic",
    ],
)
def test_valid_channels_pass(url: str) -> None:
    validate_channel(url)


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("tgram://bot-token/chat-id", "bot-token"),
        ("notaservice://user:pass1234@foo.example.org/bar", "pass1234"),
        ("json://user:pw4321@", "pw4321"),
        ("mailto://me:secretpw@", "secretpw"),
        ("https://user:pass9876@example.org/x", "pass9876"),
        ("discord://1234567890/", "1234567890"),
        ("just-a-password-hunter2", "hunter2"),
        ("", ""),
    ],
)
def test_invalid_channels_are_refused_with_only_the_redacted_url(url: str, secret: str) -> None:
    with pytest.raises(ValueError) as refused:
        validate_channel(url)
    message = str(refused.value)
    assert not secret or secret not in message
    assert "apprise URL" in message


def test_refusal_names_the_redacted_url_and_apprises_reason() -> None:
    with pytest.raises(ValueError, match=re.escape("tgram://****/chat-id (Unparseable Telegram URL")):
        validate_channel("tgram://bot-token/chat-id")


def test_apprise_log_lines_never_show_secrets(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    apprise.Apprise().add("json://bot:hunter2@127.0.0.1:8766/x?+Authorization=Bearer%20s3cr3tvalue")
    apprise.Apprise().add("tgram://bot-token/chat-id")
    with pytest.raises(ValueError):
        validate_channel("notaservice://user:pass1234@foo.example.org/bar")
    assert "Loaded JSON URL" in caplog.text
    for secret in ("hunter2", "s3cr3tvalue", "bot-token", "pass1234"):
        assert secret not in caplog.text


def test_channel_key_is_stable_short_and_secret_free() -> None:
    url = "json://bot:hunter2@127.0.0.1:8766/hooks"
    key = channel_key(url)
    assert re.fullmatch(r"[0-9a-f]{16}", key)
    assert channel_key(url) == key == channel_key(f"  {url} ")
    assert channel_key(url.replace("hunter2", "hunter3")) != key


@pytest.mark.parametrize(
    ("url", "format"),
    [
        ("mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org", MessageFormat.HTML),
        ("mailtos://user:pw@smtp.example.org?from=a@example.org&to=b@example.org", MessageFormat.HTML),
        ("slack://T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX", MessageFormat.MARKDOWN),
        ("discord://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", MessageFormat.MARKDOWN),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", MessageFormat.MARKDOWN),
        ("matrix://user:pw@matrix.example.org/#room", MessageFormat.MARKDOWN),
        ("mmost://mattermost.example.org/3ccdd113474722377935511fc85d3dd4", MessageFormat.MARKDOWN),
        ("json://127.0.0.1:8766/hooks", MessageFormat.TEXT),
        ("ntfy://mytopic", MessageFormat.TEXT),
        ("json://127.0.0.1:8766/hooks?format=markdown", MessageFormat.MARKDOWN),
        ("mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org&format=text", MessageFormat.TEXT),
    ],
)
def test_channel_format(url: str, format: MessageFormat) -> None:
    assert channel_format(url) is format


@pytest.mark.parametrize(
    ("url", "limits"),
    [
        ("mailto://127.0.0.1:2525?from=a@example.org&to=b@example.org", (250, 32768)),
        # Discord pastes the title into the Markdown it renders: no title of its own (issue #15)
        ("discord://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", (0, 2000)),
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", (0, 4096)),
        ("ntfy://mytopic", (200, 7800)),
    ],
)
def test_channel_limits_come_from_the_apprise_plugin(url: str, limits: tuple[int, int]) -> None:
    assert channel_limits(url) == limits


def test_format_and_limits_of_an_invalid_channel_are_refused() -> None:
    with pytest.raises(ValueError, match=re.escape("tgram://****/chat-id")):
        channel_format("tgram://bot-token/chat-id")
    with pytest.raises(ValueError):
        channel_limits("nope://x")
