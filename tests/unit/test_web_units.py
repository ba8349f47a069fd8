"""The web's small pure parts: which links are allowed, cursors that cannot be forged into errors,
charts that carry only numbers and escaped labels."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from rolewatch.web.charts import activity_chart, bucket_labels, close_time_chart, open_chart
from rolewatch.web.paging import BadCursor, decode_cursor, encode_cursor
from rolewatch.web.security import clean_description, safe_url
from storage.trends import CLOSE_BUCKETS, CloseTimes, DailyCounts


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox",
        "//evil.example/x",
        "/relative",
        'https://x.example/"><script>',
        "https://x.example/\nfoo",
        "mailto:me@example.org",
        "",
        None,
    ],
)
def test_only_absolute_http_urls_become_links(url: str | None) -> None:
    assert safe_url(url) is None


def test_http_and_https_urls_are_kept() -> None:
    assert safe_url("https://boards.example/jobs/1?x=1") == "https://boards.example/jobs/1?x=1"
    assert safe_url("http://boards.example/") == "http://boards.example/"


def test_descriptions_keep_formatting_and_lose_everything_active() -> None:
    cleaned = clean_description(
        '<p onclick="x()">Hi <b>there</b></p><img src=x onerror=alert(1)><script>alert(2)</script>'
        '<a href="javascript:alert(3)">a</a><a href="https://ok.example/">b</a><style>p{}</style>'
    )
    assert "<p>Hi <b>there</b></p>" in cleaned
    for gone in ("onclick", "<img", "<script", "javascript:", "<style", "alert"):
        assert gone not in cleaned
    assert 'href="https://ok.example/"' in cleaned and "noopener" in cleaned


def test_cursors_round_trip_and_refuse_tampering() -> None:
    key = (datetime(2026, 11, 1, 9, tzinfo=UTC), 42)
    assert decode_cursor(encode_cursor(key), (datetime, int)) == key
    assert decode_cursor(encode_cursor(("Intern", 7)), (str, int)) == ("Intern", 7)
    assert decode_cursor(None, (int,)) is None and encode_cursor(None) is None
    for forged in ("garbage!", encode_cursor(("x",)), encode_cursor((1, 2)), encode_cursor((True,))):
        with pytest.raises(BadCursor):
            decode_cursor(forged, (int,))


def test_charts_are_svg_of_numbers_with_escaped_labels() -> None:
    days = tuple(date(2026, 11, 1) + timedelta(days=n) for n in range(3))
    counts = DailyCounts(days, (1, 0, 5), (0, 2, 1), (10, 8, 12))
    for chart in (activity_chart(counts), open_chart(counts)):
        assert chart.startswith('<svg class="chart"') and "<script" not in chart and "style=" not in chart
    histogram = close_time_chart(CloseTimes(CLOSE_BUCKETS, (1, 2, 3, 4, 5, 6, 7, 8)))
    assert "90+" in histogram and "0–1" in histogram
    assert bucket_labels((0, 1, 3)) == ["0–1", "1–3", "3+"]
    empty = DailyCounts((), (), (), ())
    assert "<svg" in activity_chart(empty) and "<svg" in open_chart(empty)
