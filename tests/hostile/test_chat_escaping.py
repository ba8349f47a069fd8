"""Issue #15, finding 3: a posting's title and text reach every channel inert — no live link, image,
mention or HTML, and only http(s) links.

Delivered for real where a receiver can run on 127.0.0.1 (the JSON webhook, the SMTP server); for
chat services that cannot be reached, the request apprise would send is caught at the HTTP layer
(no network at all) and the exact text the service would receive is checked.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml
from sqlalchemy.engine import Engine

from notifier.alerts import Outbox
from notifier.channels import channel_format, channel_limits, send
from notifier.messages import Alert, render_alert
from notifier.outbox import deliver_due
from rolewatch.domain import Event, EventType, Posting
from rolewatch.resolve import parse_config
from tests.integration.storage_factory import Board, posting
from tests.receivers import SmtpServer, Webhook, smtp_server, webhook  # noqa: F401

ZWSP = "\u200b"
APPLY = "https://jobs.example/apply/1"
ROLE = (
    "Intern @everyone <@&123> <@456> <#789> [x](https://evil.example/a) ![i](https://evil.example/i.png)"
    " **b** @room"
)
COMPANY = "Evil <b>Co</b> @here"
DESCRIPTION = '[click](javascript:alert(1)) <a href="javascript:alert(2)">go</a> <script>x</script> @channel'

#: The title as a plain field shows it: every character kept, room-wide mentions broken by a zero-width space.
PLAIN_TITLE = (
    f"New: Intern @{ZWSP}everyone <@&123> <@456> <#789> [x](https://evil.example/a)"
    f" ![i](https://evil.example/i.png) **b** @{ZWSP}room — Evil <b>Co</b> @{ZWSP}here · Sydney, AU"
)
#: The title where the service renders it as Markdown: escaped exactly as the body is.
MARKDOWN_TITLE = (
    f"New: Intern @{ZWSP}everyone \\<@\\&123\\> \\<@456\\> \\<\\#789\\> \\[x\\]\\(https://evil.example/a\\)"
    f" \\!\\[i\\]\\(https://evil.example/i.png\\) \\*\\*b\\*\\* @{ZWSP}room"
    f" — Evil \\<b\\>Co\\</b\\> @{ZWSP}here · Sydney, AU"
)


def hostile_posting() -> Posting:
    return replace(
        posting(1, title=ROLE, company=COMPANY, description=DESCRIPTION),
        url="javascript:alert(3)",
        apply_url=APPLY,
    )


def hostile_alert() -> Alert:
    role = hostile_posting()
    event = Event(
        EventType.NEW, role.source, role.external_id, role.title, role.company, role.url, datetime.now(UTC)
    )
    return Alert(event, role)


# ------------------------------------------------------------------------------------- checks on text


def live_markdown_links(text: str) -> list[str]:
    """Destinations of Markdown links and images a renderer would make live (not backslash-escaped)."""
    return re.findall(r"(?<!\\)\]\(([^)]*)\)", text)


def assert_inert_markdown(text: str) -> None:
    assert live_markdown_links(text) == [APPLY], "the posting's own http(s) link is the only link"
    assert not re.findall(r"(?<!\\)<[@#!]", text), "no addressed mention, channel or Slack command"
    assert not re.search(r"(?<!\\)<(?:script|a |b>)", text), "no HTML"
    assert_no_room_mention(text)
    assert "](javascript" not in text.replace("\\]\\(javascript", "")


def assert_no_room_mention(text: str) -> None:
    assert not re.search(r"@(?:everyone|here|room|channel)", text), "room-wide mentions are broken"
    for word in ("everyone", "here", "room", "channel"):
        if word in text and f"@{word}" in ROLE + COMPANY + DESCRIPTION:
            assert f"@{ZWSP}{word}" in text


def assert_inert_html(text: str) -> None:
    assert re.findall(r'<a\s[^>]*href="([^"]*)"', text) == [APPLY], (
        "the posting's http(s) link is the only link"
    )
    assert "<script" not in text and "<b>Co" not in text and '<a href="javascript' not in text
    assert_no_room_mention(text)


# ------------------------------------------------------------------------------ delivered for real


def test_a_webhook_gets_the_hostile_posting_as_inert_plain_text(engine: Engine, webhook: Webhook) -> None:  # noqa: F811
    config = parse_config(
        yaml.safe_dump(
            {
                "database": engine.url.render_as_string(hide_password=False),
                "subscriptions": [{"name": "all", "notify": [webhook.url]}],
            }
        )
    )
    Board(engine, then=Outbox(config).after_record).crawl([hostile_posting()])

    assert deliver_due(engine, config).sent == 1

    [request] = webhook.wait_for(1)
    assert request.json["title"] == PLAIN_TITLE
    message = str(request.json["message"])
    assert message.endswith(f"\n\n{APPLY}")
    assert "javascript:alert(3)" not in message, "only an http(s) link is ever given as the posting's link"
    assert f"@{ZWSP}channel" in message and f"@{ZWSP}everyone" in message
    assert_no_room_mention(message)


def test_an_email_gets_a_plain_subject_and_an_inert_html_body(smtp_server: SmtpServer) -> None:  # noqa: F811
    url = smtp_server.url
    message = render_alert(
        hostile_alert(), format=channel_format(url), timezone=ZoneInfo("UTC"), limits=channel_limits(url)
    )

    assert send(url, message).ok

    [mail] = smtp_server.wait_for(1)
    assert mail["Subject"] == PLAIN_TITLE
    body = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert_inert_html(body)
    assert "&lt;a href=&#34;javascript:alert(2)&#34;&gt;go&lt;/a&gt;" in body, "the board's own link is text"
    assert "[x](https://evil.example/a)" in body, "Markdown in an HTML body is plain text"


# --------------------------------------------------------------------- caught at the HTTP layer


@pytest.fixture
def outgoing() -> Iterator[list[Any]]:
    """Every HTTP request apprise makes, answered 200 without leaving the process."""
    seen: list[Any] = []
    reply = {"ok": True, "result": {"message_id": 1}, "access_token": "t", "user_id": "@u:m.example.org"}
    reply |= {"home_server": "m.example.org", "room_id": "!r:m.example.org", "event_id": "$e"}

    def request(self: requests.Session, method: str, url: str, **kwargs: Any) -> requests.Response:
        body = kwargs.get("json") if kwargs.get("json") is not None else kwargs.get("data")
        seen.append((url, body))
        response = requests.Response()
        response.status_code, response._content, response.url = 200, json.dumps(reply).encode(), url
        return response

    with mock.patch.object(requests.sessions.Session, "request", request):
        yield seen


def payload(url: str, outgoing: list[Any]) -> dict[str, Any]:
    """What the service behind `url` would be sent for the hostile alert (its message request)."""
    message = render_alert(
        hostile_alert(), format=channel_format(url), timezone=ZoneInfo("UTC"), limits=channel_limits(url)
    )
    outgoing.clear()
    send(url, message)
    sends = [body for target, body in outgoing if not re.search(r"/(login|logout|join)", target)]
    body = sends[-1]
    if isinstance(body, bytes | str):
        body = json.loads(body)
    assert isinstance(body, dict)
    return body


DISCORD = "discord://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"


@pytest.mark.parametrize(
    "url",
    [DISCORD, DISCORD + "?format=text", "guilded://1234567890/abcdefghijklmnopqrstuvwxyzABCDEFGHIJ"],
)
def test_discord_gets_the_title_escaped_like_the_body(url: str, outgoing: list[Any]) -> None:
    content = payload(url, outgoing)["content"]
    title, _, body = content.partition("\r\n")
    assert title == MARKDOWN_TITLE
    assert_inert_markdown(content)
    assert "\\[click\\]\\(javascript:alert\\(1\\)\\)" in body


def test_discord_embeds_never_ping_whom_the_board_names(outgoing: list[Any]) -> None:
    sent = payload(DISCORD + "?format=markdown", outgoing)
    assert "allow_mentions" not in sent and "content" not in sent, "no 👉 <@456> ping built from board text"
    (embed,) = sent["embeds"]
    assert embed["title"] == MARKDOWN_TITLE
    assert_inert_markdown(embed["description"])


def test_slack_gets_a_literal_title_and_no_live_anchor(outgoing: list[Any]) -> None:
    (attachment,) = payload("slack://T000AAAA/B000BBBB/XXXXXXXXXXXXXXXXXXXXXXXX", outgoing)["attachments"]
    assert attachment["title"] == html.escape(PLAIN_TITLE, quote=False)
    text = attachment["text"]
    assert re.findall(r"<([^&>]*)>", text) == [f"{APPLY}|Open the posting"], "the only Slack anchor"
    assert_no_room_mention(text)


def test_telegram_gets_the_title_escaped_in_the_text(outgoing: list[Any]) -> None:
    sent = payload("tgram://123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw/987654", outgoing)
    title = sent["text"].partition("\n")[0]
    assert title == (
        f"*New: Intern @{ZWSP}everyone <@&123> <@456> <#789> \\[x\\](https://evil.example/a)"
        f" !\\[i\\](https://evil.example/i.png) \\*\\*b\\*\\* @{ZWSP}room"
        f" — Evil <b>Co</b> @{ZWSP}here · Sydney, AU*"
    )
    assert live_markdown_links(sent["text"]) == [APPLY]
    assert_no_room_mention(sent["text"])


def test_matrix_gets_an_escaped_heading_and_no_room_ping(outgoing: list[Any]) -> None:
    sent = payload("matrix://user:pw@matrix.example.org/#room", outgoing)
    heading = f"<h1>{html.escape(PLAIN_TITLE, quote=False)}</h1>"
    assert sent["formatted_body"].startswith(heading)
    assert_inert_html(sent["formatted_body"])
    assert_no_room_mention(sent["body"])


def test_teams_workflows_get_the_title_escaped_like_the_body(outgoing: list[Any]) -> None:
    sent = payload(
        "workflow://prod-01.westus.logic.azure.com:443/abc123/signature?api-version=2016-06-01", outgoing
    )
    blocks = {block.get("id"): block for block in sent["attachments"][0]["content"]["body"]}
    assert blocks["title"]["text"] == MARKDOWN_TITLE
    assert_inert_markdown(blocks["body"]["text"])


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("mmost://mattermost.example.org/3ccdd113474722377935511fc85d3dd4", "text"),
        ("mmost://mattermost.example.org/3ccdd113474722377935511fc85d3dd4?format=text", "text"),
        ("zulip://bot@org/abcdefghijklmnopqrstuvwxyzABCDEF/stream", "content"),
    ],
)
def test_markdown_chat_services_get_inert_markdown(url: str, field: str, outgoing: list[Any]) -> None:
    assert_inert_markdown(payload(url, outgoing)[field])


def test_zulip_and_ntfy_show_the_title_as_a_plain_field(outgoing: list[Any]) -> None:
    topic = payload("zulip://bot@org/abcdefghijklmnopqrstuvwxyzABCDEF/stream", outgoing)["topic"]
    assert PLAIN_TITLE.startswith(topic.rstrip("…")) and len(topic) <= 60
    ntfy = payload("ntfy://mytopic", outgoing)
    assert ntfy["title"] == PLAIN_TITLE
    assert ntfy["message"].endswith(f"\n\n{APPLY}") and "javascript:alert(3)" not in ntfy["message"]
