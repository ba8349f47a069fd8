"""Timestamps in every shape boards send them, as aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.normalize.dates import _TZ_WORDS, _ZONE_WORD_ENDINGS, parse_datetime

NOW = datetime(2026, 8, 10, 12, 0, tzinfo=UTC)


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-08-05T11:45:30Z", _utc(2026, 8, 5, 11, 45, 30)),
        ("2026-08-05T11:45:30+10:00", _utc(2026, 8, 5, 1, 45, 30)),
        ("2026-08-05T11:45:30-07:00", _utc(2026, 8, 5, 18, 45, 30)),
        ("2026-08-05T11:45:30.250Z", _utc(2026, 8, 5, 11, 45, 30, 250_000)),
        ("2026-08-05T11:45:30.123456789Z", _utc(2026, 8, 5, 11, 45, 30, 123_456)),
        ("2026-08-05T11:45:30", _utc(2026, 8, 5, 11, 45, 30)),
        ("2026-08-05 11:45:30", _utc(2026, 8, 5, 11, 45, 30)),
        ("2026-08-05", _utc(2026, 8, 5)),
        ("2026-08-05 11:45:30 UTC", _utc(2026, 8, 5, 11, 45, 30)),
        ("2026-08-05 11:45:30 GMT", _utc(2026, 8, 5, 11, 45, 30)),
        ("  2026-08-05  ", _utc(2026, 8, 5)),
        ("20260805", _utc(2026, 8, 5)),
        ("Tue, 05 Aug 2026 11:45:30 GMT", _utc(2026, 8, 5, 11, 45, 30)),
        ("Wed, 05 Aug 2026 21:45:30 +1000", _utc(2026, 8, 5, 11, 45, 30)),
        ("August 5, 2026", _utc(2026, 8, 5)),
        ("Aug 5, 2026", _utc(2026, 8, 5)),
        ("Aug 5th, 2026", _utc(2026, 8, 5)),
        ("5 August 2026", _utc(2026, 8, 5)),
        ("5 Aug 2026", _utc(2026, 8, 5)),
        ("2026/08/05", _utc(2026, 8, 5)),
        ("31/08/2026", _utc(2026, 8, 31)),
        ("08/31/2026", _utc(2026, 8, 31)),
    ],
)
def test_parse_datetime_reads_absolute_texts(value: str, expected: datetime) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1720000000, _utc(2024, 7, 3, 9, 46, 40)),
        (1720000000000, _utc(2024, 7, 3, 9, 46, 40)),
        (1720000000.5, _utc(2024, 7, 3, 9, 46, 40, 500_000)),
        ("1720000000", _utc(2024, 7, 3, 9, 46, 40)),
        ("1720000000000", _utc(2024, 7, 3, 9, 46, 40)),
        ("1720000000.5", _utc(2024, 7, 3, 9, 46, 40, 500_000)),
        (1720000000000000, _utc(2024, 7, 3, 9, 46, 40)),
        (Decimal("1720000000"), _utc(2024, 7, 3, 9, 46, 40)),
    ],
)
def test_parse_datetime_tells_epoch_seconds_from_milliseconds(value: Any, expected: datetime) -> None:
    assert parse_datetime(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2026, 8, 5, 11, 45), _utc(2026, 8, 5, 11, 45)),
        (datetime(2026, 8, 5, 21, 45, tzinfo=timezone(timedelta(hours=10))), _utc(2026, 8, 5, 11, 45)),
        (date(2026, 8, 5), _utc(2026, 8, 5)),
    ],
)
def test_parse_datetime_accepts_datetime_objects(value: Any, expected: datetime) -> None:
    result = parse_datetime(value)
    assert result == expected and result is not None and result.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("Posted Today", timedelta(0)),
        ("Today", timedelta(0)),
        ("Just posted", timedelta(0)),
        ("Posted Yesterday", timedelta(days=1)),
        ("Posted 3 Days Ago", timedelta(days=3)),
        ("Posted 30+ Days Ago", timedelta(days=30)),
        ("2 hours ago", timedelta(hours=2)),
        ("an hour ago", timedelta(hours=1)),
        ("15 minutes ago", timedelta(minutes=15)),
        ("3 weeks ago", timedelta(weeks=3)),
        ("a day ago", timedelta(days=1)),
        ("1 month ago", timedelta(days=30)),
        ("2 years ago", timedelta(days=730)),
        ("5d ago", timedelta(days=5)),
    ],
)
def test_parse_datetime_resolves_relative_texts_against_now(text: str, ago: timedelta) -> None:
    assert parse_datetime(text, now=NOW) == NOW - ago


def test_parse_datetime_treats_a_naive_now_as_utc() -> None:
    assert parse_datetime("Posted Yesterday", now=datetime(2026, 8, 10, 12)) == _utc(2026, 8, 9, 12)


def test_parse_datetime_needs_now_for_relative_texts() -> None:
    assert parse_datetime("Posted 3 Days Ago") is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "   ",
        "garbage",
        "Posted a while back",
        "2026-13-45",
        "05/08/2026",  # May or August: refuse to guess
        "2026",  # a year, not an epoch
        0,
        True,
        float("nan"),
        float("inf"),
        10**30,
        "9" * 400,
        [],
        {"date": "2026-08-05"},
        "<script>alert(1)</script>",
        "٢٠٢٦-٠٨-٠٥x",
    ],
)
def test_parse_datetime_returns_none_for_unreadable_values(value: Any) -> None:
    assert parse_datetime(value, now=NOW) is None


@settings(max_examples=300)
@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans(), st.datetimes()))
def test_parse_datetime_never_raises_and_is_always_utc(value: Any) -> None:
    result = parse_datetime(value, now=NOW)
    assert result is None or result.utcoffset() == timedelta(0)


@settings(max_examples=200)
@given(st.datetimes(timezones=st.timezones()))
def test_parse_datetime_round_trips_iso_format(value: datetime) -> None:
    assert parse_datetime(value.isoformat()) == value.astimezone(UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3 janvier 2026", _utc(2026, 1, 3)),
        ("15. März 2026, 10:30", _utc(2026, 3, 15, 10, 30)),
        ("1 de marzo de 2026", _utc(2026, 3, 1)),
        ("30 czerwca 2026", _utc(2026, 6, 30)),
        ("2026年3月1日", _utc(2026, 3, 1)),
    ],
)
def test_parse_datetime_reads_localised_dates_after_the_fast_paths(value: str, expected: datetime) -> None:
    assert parse_datetime(value) == expected
    assert parse_datetime(value, now=NOW) == expected, "an absolute date does not move with now"


@pytest.mark.parametrize(
    ("text", "ago"),
    [
        ("vor 3 Tagen", timedelta(days=3)),
        ("il y a 3 jours", timedelta(days=3)),
        ("hace 2 días", timedelta(days=2)),
        ("vor 3 Stunden", timedelta(hours=3)),
        ("för 2 veckor sedan", timedelta(weeks=2)),
    ],
)
def test_parse_datetime_resolves_localised_relative_texts_against_now(text: str, ago: timedelta) -> None:
    assert parse_datetime(text, now=NOW) == NOW - ago
    later = NOW + timedelta(days=40)
    assert parse_datetime(text, now=later) == later - ago, "the cached reading is an offset, not a date"
    assert parse_datetime(text) is None, "relative texts need now, in every language"


@pytest.mark.parametrize(
    "value",
    ["3 janvier", "Job 12345 Sydney", "il y a 30+ jours", "Closing 5 days", "x" * 70 + " 2026"],
)
def test_parse_datetime_refuses_localised_texts_without_a_definite_date(value: str) -> None:
    """Year-less dates, numbers that are no date, and long prose are not guessed at."""
    assert parse_datetime(value, now=NOW) is None


@given(st.text().map(lambda text: " ".join(text.split())))
def test_only_text_ending_in_a_zone_letter_can_lose_a_zone_word(text: str) -> None:
    if not text or text[-1] not in _ZONE_WORD_ENDINGS:
        assert _TZ_WORDS.sub("", text) == text


@pytest.mark.parametrize("zone", ["Z", "z", "UTC", "utc", "GMT", " gmt", " Z"])
def test_zone_words_are_read_in_any_case(zone: str) -> None:
    assert parse_datetime(f"2026-08-05T10:30:00{zone}") == _utc(2026, 8, 5, 10, 30)
