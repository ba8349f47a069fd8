"""Digest rhythms (`hourly`, `daily HH:MM`, `weekly DAY HH:MM`) and when each is next due."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

ACCEPTED_FORMS = 'immediate, hourly, "daily HH:MM" or "weekly DAY HH:MM" (DAY: mon … sun or monday … sunday)'

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})"
_DAILY = re.compile(rf"daily {_CLOCK}")
_WEEKLY = re.compile(rf"weekly (?P<day>[a-z]+) {_CLOCK}")
# Every UTC offset in use is a whole number of quarter hours, so local whole hours fall on these.
_QUARTER_HOUR = timedelta(minutes=15)


class Period(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"
    WEEKLY = "weekly"


@dataclass(frozen=True)
class DigestRule:
    """When a subscription's digest goes out, on the wall clock of the subscriber's timezone.

    `at` is unused for hourly digests (they go out at each whole local hour); `weekday` (0 is
    Monday) is used only by weekly ones.
    """

    period: Period
    at: time = time(0, 0)
    weekday: int = 0

    def __str__(self) -> str:
        clock = f"{self.at:%H:%M}"
        if self.period is Period.HOURLY:
            return "hourly"
        if self.period is Period.DAILY:
            return f"daily {clock}"
        return f"weekly {WEEKDAYS[self.weekday][:3]} {clock}"

    def next_due(self, after: datetime, tz: ZoneInfo) -> datetime:
        """The first due moment strictly after `after`, in UTC.

        A wall time that a spring-forward change skips is taken as if the clock had not moved
        (02:30 on a day that jumps from 02:00 to 03:00 is 03:30), and a wall time that a
        fall-back change repeats is its first occurrence: no day is skipped and none runs twice.
        """
        if after.tzinfo is None:
            raise ValueError("next_due needs a timezone-aware datetime")
        after = after.astimezone(UTC)
        if self.period is Period.HOURLY:
            return _next_local_hour(after, tz)
        today = after.astimezone(tz).date()
        for offset in range(9):
            day = today + timedelta(days=offset)
            if self.period is Period.WEEKLY and day.weekday() != self.weekday:
                continue
            due = _wall_clock(day, self.at, tz)
            if due > after:
                return due
        raise AssertionError("unreachable: a due day falls within every nine days")


def _wall_clock(day: date, at: time, tz: ZoneInfo) -> datetime:
    """`day` at `at` in `tz`, as UTC; fold=0 picks the earlier reading of ambiguous and skipped times."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


def _next_local_hour(after: datetime, tz: ZoneInfo) -> datetime:
    """The first whole local hour strictly after `after` (also right across a DST change)."""
    candidate = after.replace(second=0, microsecond=0, minute=after.minute - after.minute % 15)
    while True:
        candidate += _QUARTER_HOUR
        if candidate.astimezone(tz).minute == 0:
            return candidate


def parse_digest(text: str) -> DigestRule | None:
    """The rule written in a subscription's `digest:`; None for `immediate` (no digest).

    Case and extra spaces do not matter; anything else than the accepted forms is a ValueError
    that lists them.
    """
    normalised = " ".join(str(text).lower().split())
    if normalised == "immediate":
        return None
    if normalised == "hourly":
        return DigestRule(Period.HOURLY)
    if match := _DAILY.fullmatch(normalised):
        return DigestRule(Period.DAILY, at=_clock(match, text))
    if match := _WEEKLY.fullmatch(normalised):
        return DigestRule(Period.WEEKLY, at=_clock(match, text), weekday=_weekday(match["day"], text))
    raise ValueError(f"invalid digest {text!r}: use {ACCEPTED_FORMS}")


def _clock(match: re.Match[str], text: str) -> time:
    hour, minute = int(match["hour"]), int(match["minute"])
    if hour > 23 or minute > 59:
        raise ValueError(f"invalid digest {text!r}: {hour}:{minute:02d} is not a time of day (00:00 … 23:59)")
    return time(hour, minute)


def _weekday(name: str, text: str) -> int:
    for index, day in enumerate(WEEKDAYS):
        if name in (day, day[:3]):
            return index
    raise ValueError(f"invalid digest {text!r}: {name!r} is not a day; use mon … sun or monday … sunday")
