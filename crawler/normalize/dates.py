"""Timestamps in every shape boards send them, returned as timezone-aware UTC datetimes."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, Final

# Epoch values above these magnitudes are milliseconds / microseconds / nanoseconds: 1e11 s is
# the year 5138, while 1e11 ms is 1973, so the ranges cannot be confused for real postings.
_MS_THRESHOLD: Final = 1e11
# Below this (March 1973) a number is a sentinel such as 0, a year such as "2026" or a count,
# never the time a posting went up.
_EPOCH_FLOOR: Final = 1e8
_US_THRESHOLD: Final = 1e14
_NS_THRESHOLD: Final = 1e17

_TZ_WORDS: Final = re.compile(r"\s*(?:UTC|GMT|Z)$", re.IGNORECASE)
_ZONE_WORD_ENDINGS: Final = frozenset("CcTtZz")
_NUMERIC: Final = re.compile(r"[+-]?\d+(?:\.\d+)?")
_YEAR: Final = re.compile(r"\d{4}")
_COMPACT_DATE: Final = re.compile(r"(?:19|20)\d{6}")
_SLASHED: Final = re.compile(r"(\d{1,4})[/.](\d{1,2})[/.](\d{1,4})")
_TEXT_FORMATS: Final = (
    "%B %d, %Y", "%b %d, %Y", "%B %d %Y", "%b %d %Y", "%d %B %Y", "%d %b %Y", "%d-%b-%Y",
    "%b. %d, %Y", "%A, %B %d, %Y", "%a, %b %d, %Y", "%d %B, %Y",
)  # fmt: skip

_RELATIVE: Final = re.compile(
    r"\b(?P<count>\d+|an?|one)\s*\+?\s*"
    r"(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?|h|days?|d|weeks?|wks?|w|months?|mos?|years?|yrs?|y)"
    r"\s+ago\b"
)
_UNIT_DELTAS: Final = {
    "s": timedelta(seconds=1),
    "mi": timedelta(minutes=1),
    "h": timedelta(hours=1),
    "d": timedelta(days=1),
    "w": timedelta(weeks=1),
    "mo": timedelta(days=30),
    "y": timedelta(days=365),
}
_NOW_WORDS: Final = re.compile(
    r"\b(?:today|just\s+(?:now|posted)|moments?\s+ago|few\s+(?:seconds|minutes)\s+ago)\b"
)
_YESTERDAY: Final = re.compile(r"\byesterday\b")

# The dateparser fallback: languages tried (a fixed list is six times faster than detecting one
# of all 200 on text that is no date), texts short enough to be a date, and its sentinel bases.
_LOCALISED_LANGUAGES: Final = (
    "en", "fr", "de", "es", "it", "pt", "nl", "pl", "sv", "da", "nb", "fi", "cs", "ro", "hu", "tr",
    "ru", "uk", "ja", "zh", "ko",
)  # fmt: skip
_LOCALISED_MAX_LENGTH: Final = 64
_LETTER: Final = re.compile(r"[^\W\d_]")
_DIGIT: Final = re.compile(r"\d")
_SENTINELS: Final = (datetime(1900, 6, 15, 12, 0), datetime(1900, 6, 16, 13, 0))
_EARLIEST_YEAR: Final = 1950
#: Texts up to this long are cached (a timestamp is short; a long text is prose, not a date).
_CACHED_LENGTH: Final = 64


def parse_datetime(value: Any, *, now: datetime | None = None) -> datetime | None:
    """An aware UTC datetime for `value`, or None when it cannot be read; it never raises.

    Naive values are taken as UTC (boards that omit the offset almost always mean it).
    Relative texts such as "Posted 3 Days Ago" need `now`, the crawl time, to resolve.
    """
    try:
        return _parse(value, now)
    except (ValueError, OverflowError, OSError, TypeError, ArithmeticError):
        return None


def _parse(value: Any, now: datetime | None) -> datetime | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return _as_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float | Decimal):
        return _from_epoch(float(value))
    if isinstance(value, str):
        if now is None and len(value) <= _CACHED_LENGTH:
            return _from_text_alone(value)
        return _from_text(" ".join(value.split()), now)
    return None


@lru_cache(maxsize=8192)
def _from_text_alone(value: str) -> datetime | None:
    """Cached: a board publishes many postings at once, each stamped with the same few times, and
    without `now` a text always reads the same. Failures raise again, uncached."""
    return _from_text(" ".join(value.split()), None)


def _from_text(text: str, now: datetime | None) -> datetime | None:
    if not text:
        return None
    if _COMPACT_DATE.fullmatch(text):
        return _as_utc(datetime.strptime(text, "%Y%m%d"))
    if _NUMERIC.fullmatch(text):
        return _from_epoch(float(text))
    if _YEAR.search(text):  # every absolute form below names a year; relative texts never do
        absolute = _from_iso(text) or _from_formats(text) or _from_rfc2822(text) or _from_slashed(text)
        if absolute is not None:
            return absolute
    relative = _from_relative(text.lower(), now) if now is not None else None
    return relative or _from_localised(text, now)


def _from_iso(text: str) -> datetime | None:
    # Only text ending in "Z", "UTC" or "GMT" can lose a zone word; the regex scan costs more
    # than the rest of reading a timestamp.
    named_zone = len(text) > 10 and text[-1] in _ZONE_WORD_ENDINGS
    candidate = _TZ_WORDS.sub("", text) if named_zone else text
    if len(candidate) > 10 and candidate[10] == " " and candidate[:4].isdigit():
        candidate = candidate[:10] + "T" + candidate[11:]
    try:
        return _as_utc(datetime.fromisoformat(candidate))
    except ValueError:
        return None


def _from_formats(text: str) -> datetime | None:
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text)
    for fmt in _TEXT_FORMATS:
        try:
            return _as_utc(datetime.strptime(cleaned, fmt))
        except ValueError:
            continue
    return None


def _from_rfc2822(text: str) -> datetime | None:
    """Feed dates: `Tue, 05 Aug 2026 11:45:30 GMT`."""
    if not re.search(r"\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+\d", text):
        return None
    try:
        return _as_utc(parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        return None


def _from_slashed(text: str) -> datetime | None:
    """`2026/08/05` always; `31/08/2026` or `08/31/2026` only when the day cannot be the month."""
    found = _SLASHED.fullmatch(text)
    if not found:
        return None
    first, second, third = (int(part) for part in found.groups())
    if len(found.group(1)) == 4:
        return datetime(first, second, third, tzinfo=UTC)
    if len(found.group(3)) != 4:
        return None
    if first > 12 >= second:
        return datetime(third, second, first, tzinfo=UTC)
    if second > 12 >= first:
        return datetime(third, first, second, tzinfo=UTC)
    return None  # 05/08/2026 is May or August depending on the board's country


def _from_relative(text: str, now: datetime) -> datetime | None:
    anchor = _as_utc(now)
    if _NOW_WORDS.search(text):
        return anchor
    if _YESTERDAY.search(text):
        return anchor - timedelta(days=1)
    found = _RELATIVE.search(text)
    if not found:
        return None
    raw_count = found.group("count")
    count = int(raw_count) if raw_count.isdigit() else 1
    return anchor - count * _unit_delta(found.group("unit"))


def _from_localised(text: str, now: datetime | None) -> datetime | None:
    """The slow path, after every fast one failed: dateparser for "3 janvier 2026", "vor 3 Tagen".

    Only short texts with a letter and a digit get here (never "05/08/2026", which stays
    refused). A year-less date ("3 janvier") is refused like an ambiguous one; a relative one
    needs `now`, as in English.
    """
    if len(text) > _LOCALISED_MAX_LENGTH or not _LETTER.search(text) or not _DIGIT.search(text):
        return None
    reading = _localised_reading(text)
    if reading is None:
        return None
    if isinstance(reading, datetime):
        return reading
    return _as_utc(now) - reading if now is not None else None


@lru_cache(maxsize=4096)
def _localised_reading(text: str) -> datetime | timedelta | None:
    """An absolute UTC datetime, or how long before "now" a relative text means; cached per text.

    dateparser resolves relative texts against a base, so the text is read against two
    sentinel bases in 1900: a relative text moves with the base, a dated one stays put, and a
    year-less one lands in 1900 (and is refused). Caching the offset, not the date, keeps the
    cache valid for every crawl time.
    """
    try:
        first = _dateparser(_SENTINELS[0]).get_date_data(text).date_obj
        second = _dateparser(_SENTINELS[1]).get_date_data(text).date_obj
    except Exception:  # dateparser is a big regex machine: never let odd text escape as a crash
        return None
    if not isinstance(first, datetime) or not isinstance(second, datetime):
        return None
    first, second = first.replace(tzinfo=None), second.replace(tzinfo=None)
    if second - first == _SENTINELS[1] - _SENTINELS[0]:
        ago = _SENTINELS[0] - first
        return ago or None  # "now" for text that merely contains a number is no reading at all
    if first == second and first.year >= _EARLIEST_YEAR:
        return first.replace(tzinfo=UTC)
    return None


@lru_cache(maxsize=2)
def _dateparser(base: datetime) -> Any:
    """One parser per sentinel base, built on first use: importing dateparser costs a fifth of a second."""
    from dateparser.date import DateDataParser

    settings = {
        "RELATIVE_BASE": base,
        "TIMEZONE": "UTC",
        "TO_TIMEZONE": "UTC",
        "RETURN_AS_TIMEZONE_AWARE": True,
        "PREFER_DATES_FROM": "past",
    }
    return DateDataParser(languages=list(_LOCALISED_LANGUAGES), settings=settings)


def _unit_delta(unit: str) -> timedelta:
    if unit.startswith("mo"):
        return _UNIT_DELTAS["mo"]
    if unit.startswith("mi"):
        return _UNIT_DELTAS["mi"]
    return _UNIT_DELTAS[unit[0]]


def _from_epoch(number: float) -> datetime | None:
    magnitude = abs(number)
    if magnitude < _EPOCH_FLOOR:
        return None
    if magnitude >= _NS_THRESHOLD:
        number /= 1e9
    elif magnitude >= _US_THRESHOLD:
        number /= 1e6
    elif magnitude >= _MS_THRESHOLD:
        number /= 1e3
    return datetime.fromtimestamp(number, tz=UTC)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
