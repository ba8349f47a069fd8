"""Whitespace, entity and HTML clean-up of board text."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.normalize.text import clean_text, html_to_text, sanitize_html, split_camel, unescape_entities

ONE_MEGABYTE = 1_000_000


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("  Data   Scientist  ", "Data Scientist"),
        ("Data\u00a0Scientist", "Data Scientist"),
        ("Data\u200bScientist", "Data Scientist"),
        ("\ufeffIntern", "Intern"),
        ("Line\none\ttab\r\nend", "Line one tab end"),
        ("thin\u2009space\u3000ideographic", "thin space ideographic"),
        ("soft\u00adhyphen", "softhyphen"),
        ("👩\u200d💻 engineer", "👩\u200d💻 engineer"),
        ("مهندس  بيانات", "مهندس بيانات"),
    ],
)
def test_clean_text_collapses_every_kind_of_whitespace(raw: str | None, expected: str) -> None:
    assert clean_text(raw) == expected


def test_unescape_entities_decodes_exactly_one_level() -> None:
    assert unescape_entities("&lt;p&gt;Hi&amp;amp;bye&lt;/p&gt;") == "<p>Hi&amp;bye</p>"


def test_unescape_entities_leaves_plain_text_alone() -> None:
    assert unescape_entities("Plain text, no entities") == "Plain text, no entities"


@pytest.mark.parametrize(
    ("raw", "forbidden"),
    [
        ("<p>Hi</p><script>alert(1)</script>", "alert"),
        ("<style>body{display:none}</style><p>Hi</p>", "display"),
        ('<img src=x onerror="alert(1)">', "onerror"),
        ('<p onclick="steal()">Hi</p>', "onclick"),
        ('<a href="javascript:alert(1)">x</a>', "javascript"),
        ('<a href="JaVaScRiPt:alert(1)">x</a>', "alert"),
        ('<iframe src="https://evil.example"></iframe>', "iframe"),
        ("<noscript><p>tracking pixel</p></noscript>", "tracking"),
        ('<p style="position:fixed">x</p>', "position"),
        ("<svg><script>alert(1)</script></svg>", "alert"),
        ("<!-- secret comment -->", "secret"),
    ],
)
def test_sanitize_html_removes_active_content(raw: str, forbidden: str) -> None:
    assert forbidden.lower() not in sanitize_html(raw).lower()


def test_sanitize_html_keeps_the_allowed_structure() -> None:
    raw = (
        "<h2>About</h2><p>We <strong>build</strong> <em>things</em>.</p>"
        "<ul><li>Python</li></ul><ol><li>One</li></ol><blockquote>Quote</blockquote>"
        "<pre><code>x = 1</code></pre><table><tr><th>a</th><td>b</td></tr></table><br>"
    )
    cleaned = sanitize_html(raw)
    for tag in ("<h2>", "<p>", "<strong>", "<em>", "<ul>", "<ol>", "<li>", "<blockquote>", "<pre>", "<code>"):
        assert tag in cleaned
    assert "<table>" in cleaned and "<th>" in cleaned and "<td>" in cleaned


def test_sanitize_html_adds_noopener_to_links() -> None:
    cleaned = sanitize_html('<a href="https://example.com/jobs" target="_blank">Apply</a>')
    assert 'href="https://example.com/jobs"' in cleaned
    assert 'rel="noopener noreferrer"' in cleaned
    assert "target" not in cleaned


def test_sanitize_html_drops_unknown_tags_but_keeps_their_text() -> None:
    assert sanitize_html("<font><span>Hello</span></font>") == "Hello"


def test_block_divs_keep_their_text_apart() -> None:
    """Lever writes descriptions as a run of divs; dropping them glued "Who we are" to the next line."""
    html = sanitize_html("<div><b>Who we are</b></div><div>Numbat Robotics builds robots.</div>")
    assert html_to_text(html) == "Who we are\nNumbat Robotics builds robots."


@pytest.mark.parametrize("raw", [None, ""])
def test_sanitize_html_of_nothing_is_empty(raw: str | None) -> None:
    assert sanitize_html(raw) == ""


def test_sanitize_html_survives_lone_surrogates() -> None:
    assert "Hi" in sanitize_html("<p>Hi\ud800</p>")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, ""),
        ("", ""),
        ("   ", ""),
        ("plain text &amp; more", "plain text & more"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Line1<br>Line2", "Line1\nLine2"),
        ("a<br><br><br><br>b", "a\n\nb"),
        ("<ul><li>Python</li><li>SQL</li></ul>", "- Python\n- SQL"),
        ("<ul>\n  <li><p>Nested paragraph</p></li>\n  <li></li>\n</ul>", "- Nested paragraph"),
        ("<h2>About</h2>\n<p>We&rsquo;re   hiring.\n  Join us.</p>", "About\n\nWe’re hiring. Join us."),
        ("<p>Hi</p><script>alert(1)</script><style>p{}</style><p>Bye</p>", "Hi\n\nBye"),
        ("<div><div><p>deep</p></div></div>", "deep"),
        ("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td></tr></table>", "a b\nc"),
        ("<p>broken <b>tags <i>here</p", "broken tags here"),
        ("<p>&nbsp;&nbsp;spaced&nbsp;out&nbsp;</p>", "spaced out"),
        ("<p>a</p>\n\n\n<p></p><p></p>\n<p>b</p>", "a\n\nb"),
        ("<<<>>>", "<<<>>>"),
        ("text with \x00 null", "text with null"),
    ],
)
def test_html_to_text_renders_readable_lines(raw: str | None, expected: str) -> None:
    assert html_to_text(raw) == expected


def test_html_to_text_drops_script_content_even_when_unclosed() -> None:
    assert "alert" not in html_to_text("<p>Hi</p><script>alert(1)")


def test_html_to_text_ignores_event_handlers_and_images() -> None:
    assert html_to_text('<p>Hi<img src=x onerror="alert(1)"></p>') == "Hi"


def test_html_to_text_keeps_right_to_left_text_and_emoji() -> None:
    assert html_to_text("<p>\u202eevil\u202c مرحبا 🚀</p>") == "\u202eevil\u202c مرحبا 🚀"


def test_html_to_text_keeps_text_nested_beyond_the_parser_depth_limit() -> None:
    assert html_to_text("<div>" * 100_000 + "deep") == "deep"


def test_html_to_text_handles_a_megabyte_of_text() -> None:
    text = html_to_text("<p>" + "word " * (ONE_MEGABYTE // 5) + "</p>")
    assert text.startswith("word word") and len(text) > ONE_MEGABYTE // 2


def test_html_to_text_handles_a_megabyte_of_tags() -> None:
    assert html_to_text("<li>x</li>" * (ONE_MEGABYTE // 10)).startswith("- x\n- x")


def test_sanitize_html_handles_a_megabyte() -> None:
    raw = "<p onclick=x>" + "a" * ONE_MEGABYTE + "</p><script>alert(1)</script>"
    cleaned = sanitize_html(raw)
    assert "onclick" not in cleaned and "alert" not in cleaned and len(cleaned) > ONE_MEGABYTE


@given(st.text())
def test_clean_text_is_idempotent(value: str) -> None:
    once = clean_text(value)
    assert clean_text(once) == once


@given(st.text())
def test_clean_text_never_leaves_runs_of_whitespace(value: str) -> None:
    cleaned = clean_text(value)
    assert "  " not in cleaned and cleaned == cleaned.strip()


@settings(max_examples=300)
@given(st.text())
def test_html_to_text_never_raises_on_arbitrary_text(value: str) -> None:
    assert isinstance(html_to_text(value), str)


_HTML_PIECES = st.sampled_from(
    ["<p>", "</p>", "<li>", "<ul>", "</ul>", "<br>", "<script>", "</script>", "<b>", "&amp;", "&#x", "<", ">"]
)


@settings(max_examples=300)
@given(st.lists(st.one_of(_HTML_PIECES, st.text(max_size=5)), max_size=30).map("".join))
def test_html_to_text_never_raises_on_tag_soup(value: str) -> None:
    text = html_to_text(value)
    assert "\n\n\n" not in text


@settings(max_examples=300)
@given(st.lists(st.one_of(_HTML_PIECES, st.text(max_size=5)), max_size=30).map("".join))
def test_sanitize_html_never_emits_script_tags(value: str) -> None:
    assert "<script" not in sanitize_html(value).lower()


_ENTITY_PIECES = st.sampled_from(
    [
        "&lt;", "&gt;", "&amp;", "&quot;", "&#39;", "&nbsp;", "&amp;lt;", "&amp;amp;", "&lt", "&amp",
        "&LT;", "&AMP;", "&#x27;", "&#0;", "&#128;", "&apos;", "&notin;", "&notit;", "&", "& ", "&#", ";",
        "p", "<", "\u00e9", "\U0001f4bc", "\ud800",
    ]
)  # fmt: skip


@pytest.mark.parametrize(
    "raw",
    [
        "&amp;lt;p&amp;gt;",
        "&lt;&lt",
        "a & b &lt; c",
        "&lt;p&gt;caf&eacute;&lt;/p&gt;",
        "&#39;&#039;",
        "&nbsp&nbsp;",
    ],
)
def test_unescape_entities_decodes_like_the_standard_library(raw: str) -> None:
    assert unescape_entities(raw) == html.unescape(raw)


@settings(max_examples=500)
@given(st.lists(st.one_of(_ENTITY_PIECES, st.text(max_size=4)), max_size=40).map("".join))
def test_unescape_entities_shortcut_never_differs_from_the_standard_library(value: str) -> None:
    assert unescape_entities(value) == html.unescape(value)


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            _HTML_PIECES, st.text(max_size=5), st.sampled_from(["\x00", "\x01", "\x1f", "\x0b", "é", "日本"])
        ),
        max_size=30,
    ).map("".join)
)
def test_html_to_text_drops_control_characters_wherever_they_are(value: str) -> None:
    without = "".join(char for char in value if char in "\t\n\r" or ord(char) >= 0x20)
    assert html_to_text(value) == html_to_text(without)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("FullTime", "Full Time"), ("OnSite", "On Site"), ("FULL_TIME", "FULL_TIME"), ("iOS", "i OS")],
)
def test_split_camel_reads_joined_words_apart(raw: str, expected: str) -> None:
    assert split_camel(raw) == expected
