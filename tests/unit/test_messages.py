"""Alert messages: titles, bodies in three formats, escaping of hostile postings, cutting, overrides."""

from __future__ import annotations

import re
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notifier.messages import (
    UNTITLED_CHANNEL_TITLE_CHARS,
    Alert,
    Message,
    MessageFormat,
    escape_markdown,
    render_alert,
    render_health,
    template_names,
)
from rolewatch.domain import Event, EventType, Location, Posting, Salary

SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")
ROOMY = (250, 32768)
URL = "https://careers.example.com/jobs/7?team=data"
ALL_FORMATS = list(MessageFormat)


def posting(**changes: Any) -> Posting:
    values: dict[str, Any] = {
        "source": "tiktok",
        "external_id": "7",
        "title": "Data Scientist Intern",
        "company": "TikTok",
        "url": URL,
        "locations": (Location("Sydney", city="Sydney", country="AU"),),
        "employment_type": "intern",
        "salary": Salary(78000, 82000, "AUD", "year"),
        "posted_at": datetime(2025, 11, 20, 22, 0, tzinfo=UTC),
        "deadline": datetime(2025, 12, 31, 12, 59, tzinfo=UTC),
        "description_text": "Work with the recommendation team on experiments.",
    }
    values.update(changes)
    return Posting(**values)


def alert(
    kind: EventType = EventType.NEW,
    *,
    changes: dict[str, tuple[str, str]] | None = None,
    opened_at: datetime | None = None,
    **posting_changes: Any,
) -> Alert:
    role = posting(**posting_changes)
    event = Event(
        type=kind,
        source=role.source,
        external_id=role.external_id,
        title=role.title,
        company=role.company,
        url=role.url,
        at=datetime(2025, 11, 24, 1, 0, tzinfo=UTC),
        changes=changes or {},
    )
    return Alert(event, role, opened_at)


def render(item: Alert, format: MessageFormat = MessageFormat.TEXT, **options: Any) -> Message:
    options.setdefault("timezone", SYDNEY)
    options.setdefault("limits", ROOMY)
    return render_alert(item, format=format, **options)


def unescaped(pattern: str, text: str) -> list[str]:
    """Occurrences of `pattern` not preceded by a backslash (i.e. live Markdown syntax)."""
    return re.findall(rf"(?<!\\){pattern}", text)


# --------------------------------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("kind", "verb"),
    [
        (EventType.NEW, "New"),
        (EventType.CHANGED, "Changed"),
        (EventType.CLOSED, "Closed"),
        (EventType.REOPENED, "Reopened"),
    ],
)
def test_title_names_event_role_company_and_location(kind: EventType, verb: str) -> None:
    assert render(alert(kind)).title == f"{verb}: Data Scientist Intern — TikTok · Sydney, AU"


def test_title_lists_two_locations_then_how_many_more() -> None:
    places = tuple(
        Location(city, city=city, country="US") for city in ("San Jose", "Seattle", "Austin", "NYC")
    )
    assert render(alert(locations=places)).title.endswith("· San Jose, US; Seattle, US +2")


def test_title_without_company_or_locations_is_still_a_sentence() -> None:
    assert render(alert(company=None, locations=())).title == "New: Data Scientist Intern"


def test_title_is_cut_to_the_channels_title_length() -> None:
    message = render(alert(title="Intern " * 100), limits=(60, 2000))
    assert len(message.title) <= 60
    assert message.title.endswith("…")


def test_title_removes_bidi_controls_and_keeps_emoji() -> None:
    hostile = "Intern \u202etxt.exe\u202c 🚀 \u2066x\u2069 👩\u200d💻"
    title = render(alert(title=hostile)).title
    assert not re.search("[\u202a-\u202e\u2066-\u2069\u200e\u200f]", title)
    assert "🚀" in title and "👩\u200d💻" in title


# ----------------------------------------------------------------------------------------------- bodies


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_body_has_company_locations_type_salary_dates_and_link(format: MessageFormat) -> None:
    body = render(alert(), format).body
    for expected in ("TikTok", "Sydney, AU", "Internship", "AUD 78,000–82,000 / year", "Work with the"):
        assert expected in body
    assert "Fri 21 Nov 2025, 09:00 AEDT" in body  # posted, in the subscriber's timezone
    assert "Wed 31 Dec 2025, 23:59 AEDT" in body  # deadline
    assert URL in body.replace("&amp;", "&")


def test_dates_follow_the_subscribers_timezone() -> None:
    body = render(alert(), timezone=NEW_YORK).body
    assert "Thu 20 Nov 2025, 17:00 EST" in body
    assert "Wed 31 Dec 2025, 07:59 EST" in body


def test_html_body_links_to_the_posting() -> None:
    body = render(alert(), MessageFormat.HTML).body
    assert '<a href="https://careers.example.com/jobs/7?team=data">Open the posting</a>' in body


def test_markdown_body_links_to_the_posting() -> None:
    assert f"[Open the posting]({URL})" in render(alert(), MessageFormat.MARKDOWN).body


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_change_lists_each_field_old_to_new(format: MessageFormat) -> None:
    changes = {
        "salary": ("AUD 70,000/yr", "AUD 78,000–82,000/yr"),
        "employment_type": ("full_time", "intern"),
        "description": ("old " * 50_000, "new " * 50_000),
    }
    body = render(alert(EventType.CHANGED, changes=changes), format).body
    assert "Salary" in body and "AUD 70,000/yr" in body and "→" in body
    assert "Full-time" in body and "Internship" in body
    assert len(body) < 3000  # long values such as the description are shortened
    assert "old old" in body and "…" in body


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_closure_says_how_long_the_role_was_open(format: MessageFormat) -> None:
    body = render(alert(EventType.CLOSED, opened_at=datetime(2025, 11, 1, 1, tzinfo=UTC)), format).body
    assert "has closed (the board no longer lists it as open)" in body  # closed by absence or by a flag
    assert "23 days" in body


def test_reopened_role_says_so() -> None:
    assert "listed again" in render(alert(EventType.REOPENED)).body


# -------------------------------------------------------------------------------------------- escaping

HOSTILE = (
    "<script>alert(1)</script> [click](javascript:alert(1)) <https://evil.example> @everyone @here "
    "**bold** `code` ![img](https://evil.example/x.png) \x1b[31mred\x07 \u202egnp.exe"
)


def test_html_escapes_board_content() -> None:
    body = render(
        alert(title=HOSTILE, company="<b>Evil</b>", description_text=HOSTILE), MessageFormat.HTML
    ).body
    assert "<script>" not in body and "<b>Evil</b>" not in body
    assert "&lt;script&gt;" in body and "&lt;b&gt;Evil&lt;/b&gt;" in body
    assert "javascript:" not in re.findall(r'href="([^"]*)"', body)[0]
    assert "\x1b" not in body and "\u202e" not in body


def test_markdown_neutralises_links_autolinks_html_and_mentions() -> None:
    body = render(
        alert(title=HOSTILE, company=HOSTILE, description_text=HOSTILE), MessageFormat.MARKDOWN
    ).body
    assert unescaped(r"\]\(", body) == ["]("]  # only the posting's own link is a live link
    assert f"]({URL})" in body
    assert not unescaped("<", body)
    assert not unescaped(r"\*\*bold", body) and not unescaped("`", body)
    assert "@everyone" not in body and "@here" not in body
    assert "@\u200beveryone" in body
    assert "\x1b" not in body and "\x07" not in body and "\u202e" not in body


def test_markdown_escapes_line_start_syntax() -> None:
    assert (
        escape_markdown("# Heading\n- item\n1. first\n> quote")
        == "\\# Heading\n\\- item\n1\\. first\n\\> quote"
    )


def test_plain_text_strips_control_characters_and_keeps_emoji() -> None:
    body = render(alert(description_text="Great team 🎉\x1b[31m\x00 apply\u202e now")).body
    assert "Great team 🎉 [31m apply now" in body
    assert not re.search("[\x00-\x08\x0b-\x1f\x7f\u202e]", body)


@pytest.mark.parametrize("url", ["javascript:alert(1)", "data:text/html,<script>", "ftp://x.example/"])
@pytest.mark.parametrize("format", ALL_FORMATS)
def test_only_web_links_become_links(format: MessageFormat, url: str) -> None:
    body = render(alert(url=url), format).body
    assert "javascript:" not in body and "data:text" not in body and "ftp://" not in body


# --------------------------------------------------------------------------------------------- cutting


def test_megabyte_description_renders_fast_and_within_limits() -> None:
    item = alert(description_text="lorem ipsum dolor " * 60_000)  # ~1 MB
    best = min(_timed(lambda: render(item, MessageFormat.MARKDOWN, limits=(250, 2000))) for _ in range(3))
    assert best < 0.05
    assert len(render(item, MessageFormat.MARKDOWN, limits=(250, 2000)).body) <= 2000


def _timed(action: Any) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


@pytest.mark.parametrize("format", ALL_FORMATS)
@pytest.mark.parametrize("body_maxlen", [400, 700, 1000])
def test_body_is_cut_to_the_limit_description_first_and_link_kept(
    format: MessageFormat, body_maxlen: int
) -> None:
    item = alert(description_text="A very long description of the role. " * 500)
    body = render(item, format, limits=(250, body_maxlen)).body
    assert len(body) <= body_maxlen
    assert _link_text(format) in body
    assert "Sydney, AU" in body  # details stay; the description went first


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_tiny_limit_cuts_the_body_but_keeps_the_link_line(format: MessageFormat) -> None:
    changes = {
        name: ("x" * 300, "y" * 300) for name in ("title", "company", "salary", "deadline", "locations")
    }
    body = render(alert(EventType.CHANGED, changes=changes), format, limits=(250, 320)).body
    assert len(body) <= 320
    assert body.rstrip().endswith(_link_text(format)) or body.rstrip().endswith(
        _link_text(format) + "</p>\n</div>"
    )
    assert "…" in body


def _link_text(format: MessageFormat) -> str:
    return {
        MessageFormat.HTML: '<a href="https://careers.example.com/jobs/7?team=data">Open the posting</a>',
        MessageFormat.MARKDOWN: f"[Open the posting]({URL})",
        MessageFormat.TEXT: URL,
    }[format]


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_channel_without_titles_gets_an_escaped_title_and_room_for_it(format: MessageFormat) -> None:
    item = alert(title="<b>C++ [Intern]</b>", description_text="words " * 2000)
    message = render(item, format, limits=(0, 1000))
    assert ("<b>" in message.title) is (format is MessageFormat.TEXT)  # the title becomes body text
    assert len(message.title) + len(message.body) + 2 <= 1000


# ------------------------------------------------------------------------------------ template overrides


def test_template_override_wins_and_the_rest_fall_back(tmp_path: Path) -> None:
    (tmp_path / "alert.txt.j2").write_text("{{ verb }} {{ role }} at {{ company }} → {{ link(url) }}")
    message = render(alert(), templates=tmp_path)
    assert message.body == f"New Data Scientist Intern at TikTok → {URL}"
    markdown = render(alert(), MessageFormat.MARKDOWN, templates=tmp_path)
    assert "**Data Scientist Intern**" in markdown.body  # the built-in Markdown template


def test_overridden_templates_are_escaped_too(tmp_path: Path) -> None:
    (tmp_path / "alert.md.j2").write_text("{{ posting.description_text }} {{ role }}")
    (tmp_path / "alert.html.j2").write_text("<p>{{ posting.description_text }}</p>")
    item = alert(description_text="[x](javascript:alert(1)) <img src=x>")
    assert unescaped(r"\]\(", render(item, MessageFormat.MARKDOWN, templates=tmp_path).body) == []
    assert "<img" not in render(item, MessageFormat.HTML, templates=tmp_path).body


def test_missing_template_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist"):
        render(alert(), templates=tmp_path / "nope")


def test_every_template_exists_for_every_format() -> None:
    names = template_names()
    assert len(names) == 9
    assert "alert.html.j2" in names and "digest.md.j2" in names and "health.txt.j2" in names
    templates = Path(__file__).parents[2] / "notifier" / "templates"
    assert sorted(p.name for p in templates.glob("*.j2")) == names


# -------------------------------------------------------------------------------------------- health


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_health_message_for_a_failing_source(format: MessageFormat) -> None:
    message = render_health(
        "tiktok",
        failing=True,
        crawls=3,
        reason="HTTP 503 <html>maintenance</html>",
        since=datetime(2025, 11, 24, 0, 0, tzinfo=UTC),
        now=datetime(2025, 11, 24, 3, 0, tzinfo=UTC),
        format=format,
        timezone=SYDNEY,
        limits=ROOMY,
    )
    assert message.title == "rolewatch: source tiktok is failing (3 crawls)"
    assert "3 crawls in a row" in message.body and "3 hours ago" in message.body
    assert "Mon 24 Nov 2025, 11:00 AEDT" in message.body
    assert "<html>" not in message.body or format is MessageFormat.TEXT


def test_health_message_for_a_recovered_source() -> None:
    message = render_health(
        "stripe",
        failing=False,
        crawls=4,
        reason="",
        since=datetime(2025, 11, 24, 0, 0, tzinfo=UTC),
        now=datetime(2025, 11, 25, 0, 0, tzinfo=UTC),
        format=MessageFormat.TEXT,
        timezone=ZoneInfo("UTC"),
        limits=ROOMY,
    )
    assert message.title == "rolewatch: source stripe recovered"
    assert "crawling again after 4 failed crawls" in message.body and "for 1 day" in message.body


def test_messages_are_plain_values() -> None:
    message = render(alert())
    assert replace(message, title="x").body == message.body
    assert message.format is MessageFormat.TEXT


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_an_escaped_title_still_fits_the_untitled_channel_title_length(format: MessageFormat) -> None:
    title = render(alert(title="*[<&>]*" * 80, company=None, locations=()), format, limits=(0, 4000)).title
    assert len(title) <= UNTITLED_CHANNEL_TITLE_CHARS
    assert title.endswith("…")
    if format is MessageFormat.MARKDOWN:
        assert not unescaped(r"[\[\]*<>]", title.replace("\\\\", ""))


@pytest.mark.parametrize("format", ALL_FORMATS)
@pytest.mark.parametrize("limits", [ROOMY, (0, 32768)])
def test_room_wide_mentions_never_ping_in_any_format(format: MessageFormat, limits: tuple[int, int]) -> None:
    message = render(
        alert(title="Intern @everyone @here", company="@room Co", description_text="@channel @all hi"),
        format,
        limits=limits,
    )
    for text in (message.title, message.body):
        assert not re.search(r"@(everyone|here|room|channel|all)\b", text)
    assert "@\u200beveryone" in message.title and "@\u200bchannel" in message.body


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_a_remote_location_is_not_labelled_remote_twice(format: MessageFormat) -> None:
    remote = render(
        alert(locations=(Location("Remote", country="US", remote=True),), workplace="remote"), format
    )
    assert "Remote, US" in remote.body and "(Remote)" not in remote.body
    mixed = (Location("Sydney", city="Sydney", country="AU"),)
    assert "(Hybrid)" in render(alert(locations=mixed, workplace="hybrid"), format).body


@pytest.mark.parametrize("format", ALL_FORMATS)
def test_a_description_heading_does_not_run_into_its_paragraph(format: MessageFormat) -> None:
    from crawler.normalize.text import html_to_text

    text = html_to_text(
        "<div><b>Who we are</b></div><div>Numbat Robotics builds robots.</div><h2>The role</h2>"
    )
    body = render(alert(description_text=text), format).body
    assert "Who we are Numbat" not in body and "Numbat Robotics builds robots." in body
    assert "Who we are\nNumbat Robotics builds robots.\nThe role" in body
