"""The one redaction mask: every secret part of a channel URL is `****`, in the CLI, logs and errors alike."""

from __future__ import annotations

import pytest

from notifier.channels import redact, redact_text
from rolewatch.logs import redact as redact_log_line
from rolewatch.logs import redact_url as redact_before_apprise
from rolewatch.redaction import MASK, mask_elided, redact_url

CHANNELS = [
    ("discord://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "discord://****/****/"),
    ("slack://T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX", "slack://****/****/****/"),
    ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", "tgram://****/987654/"),
    ("mailto://me:app-password@gmail.com", "mailtos://me:****@gmail.com/"),
    ("pover://ukey1234@atoken5678", "pover://****@****/"),
    (
        "mmost://mattermost.example.org/3ccdd113474722377935511fc85d3dd4",
        "mmost://mattermost.example.org/****/",
    ),
    (
        "json://bot:hunter2@127.0.0.1:8766/hooks/jobs?+Authorization=Bearer%20xyz",
        "json://bot:****@127.0.0.1:8766/hooks/jobs?+Authorization=****",
    ),
]


@pytest.mark.parametrize(("url", "shown"), CHANNELS)
def test_every_secret_part_of_a_channel_url_is_four_stars(url: str, shown: str) -> None:
    assert redact(url) == shown
    assert "..." not in redact(url), "apprise's own elisions (1...0) half-show a secret"


@pytest.mark.parametrize(("url", "shown"), CHANNELS)
def test_a_log_line_shows_a_channel_exactly_as_the_cli_does(url: str, shown: str) -> None:
    assert redact_log_line(f"delivery via {url} failed") == f"delivery via {shown} failed"
    assert redact_text(f"error: {url}") == f"error: {shown}"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", "tgram://****/987654"),
        ("mailto://me:app-password@gmail.com", "mailto://me:****@gmail.com"),
        (
            "https://hooks.slack.com/services/T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX",
            "https://hooks.slack.com/services/****/****/****",
        ),
        (
            "postgresql+psycopg://rolewatch:s3cret-pw@db.example:5432/rw",
            "postgresql+psycopg://****:****@db.example:5432/rw",
        ),
    ],
)
def test_read_alone_a_url_uses_the_same_mask(url: str, shown: str) -> None:
    assert redact_url(url) == shown == redact_before_apprise(url)


def test_elisions_stored_by_older_versions_are_masked_when_shown() -> None:
    assert mask_elided("discord://1...0/a...J/") == f"discord://{MASK}/{MASK}/"
    assert mask_elided("slack://T...A/B...B/X...X//") == f"slack://{MASK}/{MASK}/{MASK}//"
    assert mask_elided("ntfy://...wxyz@ntfy.sh/topic") == f"ntfy://{MASK}@ntfy.sh/topic"
    assert mask_elided("json://127.0.0.1:8766/hooks") == "json://127.0.0.1:8766/hooks"
