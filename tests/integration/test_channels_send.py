"""Real sends through apprise to a local SMTP server and a local webhook, and how failures come back."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from notifier.channels import channel_format, channel_limits, send
from notifier.messages import Alert, Message, MessageFormat, render_alert, render_digest
from rolewatch.domain import Event, EventType, Location, Posting, Salary
from tests.receivers import MAIL_FROM, MAIL_TO, SmtpServer, Webhook, smtp_server, webhook  # noqa: F401

SECRET = "s3cr3t-token-value"
PASSWORD = "hunter2hunter2"
HOSTILE_TITLE = "Intern <script>alert(1)</script> \u202egnp.exe 🚀"


def hostile_alert(number: int = 42) -> Alert:
    posting = Posting(
        source="board",
        external_id=str(number),
        title=HOSTILE_TITLE,
        company="Evil & Co <b>",
        url=f"https://jobs.example.com/{number}",
        locations=(Location("Sydney", city="Sydney", country="AU"),),
        employment_type="intern",
        salary=Salary(78000, 82000, "AUD", "year"),
        description_text="<img src=x onerror=alert(1)> [click](javascript:alert(1)) @everyone",
    )
    event = Event(
        EventType.NEW,
        "board",
        str(number),
        posting.title,
        posting.company,
        posting.url,
        datetime(2025, 11, 24, tzinfo=UTC),
    )
    return Alert(event, posting)


def rendered_for(url: str) -> Message:
    return render_alert(
        hostile_alert(),
        format=channel_format(url),
        timezone=ZoneInfo("Australia/Sydney"),
        limits=channel_limits(url),
    )


def secret_url(receiver: Webhook) -> str:
    return receiver.url.replace("json://", f"json://bot:{PASSWORD}@") + f"?+X-Token={SECRET}"


def test_email_arrives_as_html_with_board_content_escaped(smtp_server: SmtpServer) -> None:  # noqa: F811
    message = rendered_for(smtp_server.url)
    assert message.format is MessageFormat.HTML

    outcome = send(smtp_server.url, message)

    assert outcome.ok, outcome.detail
    [mail] = smtp_server.wait_for(1)
    assert mail["To"] == MAIL_TO and MAIL_FROM in mail["From"]
    assert mail["Subject"] == "New: Intern <script>alert(1)</script> gnp.exe 🚀 — Evil & Co <b> · Sydney, AU"
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>" not in html and "<img" not in html and "\u202e" not in html
    assert '<a href="https://jobs.example.com/42">Open the posting</a>' in html
    assert "AUD 78,000–82,000 / year" in html


def test_digest_email_arrives_in_parts(smtp_server: SmtpServer) -> None:  # noqa: F811
    alerts = [hostile_alert(n) for n in range(8)]
    messages = render_digest(
        alerts, subscription="ds", format=MessageFormat.HTML, timezone=ZoneInfo("UTC"), limits=(250, 1000)
    )
    assert len(messages) > 1
    for message in messages:
        assert send(smtp_server.url, message).ok
    mails = smtp_server.wait_for(len(messages))
    assert [m["Subject"] for m in mails] == [m.title for m in messages]


def test_webhook_gets_json_with_title_body_and_headers(webhook: Webhook) -> None:  # noqa: F811
    url = secret_url(webhook)
    message = rendered_for(url)
    assert message.format is MessageFormat.TEXT

    outcome = send(url, message)

    assert outcome.ok, outcome.detail
    [request] = webhook.wait_for(1)
    assert request.path == "/hooks/rolewatch"
    assert request.headers["content-type"].startswith("application/json")
    assert request.headers["x-token"] == SECRET
    assert request.json["title"] == message.title
    assert request.json["message"] == message.body
    assert "https://jobs.example.com/42" in request.json["message"]


def test_http_500_is_a_failure_with_a_redacted_detail(
    webhook: Webhook,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.respond_with(500)

    outcome = send(secret_url(webhook), Message("t", "b", MessageFormat.TEXT))

    assert not outcome.ok
    assert "500" in outcome.detail
    assert_no_secret(outcome.detail + caplog.text)


def test_refused_connection_is_a_failure_not_an_exception(
    webhook: Webhook,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.close()
    started = time.monotonic()

    outcome = send(secret_url(webhook), Message("t", "b", MessageFormat.TEXT))

    assert not outcome.ok
    assert "Connection error" in outcome.detail
    assert time.monotonic() - started < 5
    assert_no_secret(outcome.detail + caplog.text)


def test_refused_smtp_connection_is_a_failure(smtp_server: SmtpServer) -> None:  # noqa: F811
    url = smtp_server.url.replace("mailto://", f"mailto://user:{PASSWORD}@")
    smtp_server.close()

    outcome = send(url, Message("t", "<p>b</p>", MessageFormat.HTML), timeout_s=5)

    assert not outcome.ok
    assert "Connection error" in outcome.detail
    assert PASSWORD not in outcome.detail


def test_hanging_webhook_is_bounded_by_the_timeout(
    webhook: Webhook,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    webhook.hang()
    started = time.monotonic()

    outcome = send(secret_url(webhook), Message("t", "b", MessageFormat.TEXT), timeout_s=1)

    elapsed = time.monotonic() - started
    assert not outcome.ok
    assert elapsed < 3, elapsed
    assert outcome.detail
    assert_no_secret(outcome.detail + caplog.text)
    time.sleep(0.5)  # let apprise's abandoned worker see its own (capped) read time-out


def test_unusable_url_is_a_failure_with_the_url_redacted() -> None:
    outcome = send("tgram://bot-token-secret/chat-id", Message("t", "b", MessageFormat.MARKDOWN))
    assert not outcome.ok
    assert "bot-token-secret" not in outcome.detail
    assert "tgram://****/chat-id" in outcome.detail


def test_debug_logging_of_a_send_shows_no_secret(
    webhook: Webhook,  # noqa: F811
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="apprise")
    assert send(secret_url(webhook), Message("t", "b", MessageFormat.TEXT)).ok
    assert "Loaded JSON URL" in caplog.text
    assert_no_secret(caplog.text)


def assert_no_secret(text: str) -> None:
    assert SECRET not in text
    assert PASSWORD not in text
