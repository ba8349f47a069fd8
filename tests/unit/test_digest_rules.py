"""Digest rhythms: parsing, the next due moment across time zones and DST, and digests grouped and split."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from notifier.digest import DigestRule, Period, parse_digest
from notifier.messages import Alert, MessageFormat, render_digest
from rolewatch.domain import Event, EventType, Location, Posting

SYDNEY = ZoneInfo("Australia/Sydney")
NEW_YORK = ZoneInfo("America/New_York")
KOLKATA = ZoneInfo("Asia/Kolkata")


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


# --------------------------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("immediate", None),
        (" Immediate ", None),
        ("hourly", DigestRule(Period.HOURLY)),
        ("HOURLY", DigestRule(Period.HOURLY)),
        ("daily 08:00", DigestRule(Period.DAILY, at=time(8, 0))),
        ("Daily 8:05", DigestRule(Period.DAILY, at=time(8, 5))),
        ("  daily   23:59 ", DigestRule(Period.DAILY, at=time(23, 59))),
        ("weekly mon 08:00", DigestRule(Period.WEEKLY, at=time(8, 0), weekday=0)),
        ("Weekly Monday 08:00", DigestRule(Period.WEEKLY, at=time(8, 0), weekday=0)),
        ("weekly SUN 00:00", DigestRule(Period.WEEKLY, at=time(0, 0), weekday=6)),
        ("weekly friday 17:30", DigestRule(Period.WEEKLY, at=time(17, 30), weekday=4)),
    ],
)
def test_accepted_rhythms(text: str, rule: DigestRule | None) -> None:
    assert parse_digest(text) == rule


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("", "hourly"),
        ("daily", "daily HH:MM"),
        ("daily 8", "daily HH:MM"),
        ("every day", "weekly DAY HH:MM"),
        ("weekly 08:00", "weekly DAY HH:MM"),
        ("twice-daily 08:00", "immediate"),
        ("daily 24:00", "not a time of day"),
        ("daily 07:60", "not a time of day"),
        ("weekly funday 08:00", "'funday' is not a day"),
        ("weekly tu 08:00", "is not a day"),
    ],
)
def test_anything_else_is_refused_with_the_accepted_forms(text: str, complaint: str) -> None:
    with pytest.raises(ValueError, match=re.escape(complaint)):
        parse_digest(text)


@pytest.mark.parametrize("text", ["hourly", "daily 08:00", "weekly mon 08:00"])
def test_rules_print_as_they_are_written(text: str) -> None:
    assert str(parse_digest(text)) == text


# ------------------------------------------------------------------------------------------- next due


def due(text: str, after: datetime, tz: ZoneInfo) -> datetime:
    rule = parse_digest(text)
    assert rule is not None
    return rule.next_due(after, tz)


@pytest.mark.parametrize(
    ("text", "after", "tz", "expected"),
    [
        # 2025-11-24 00:00 UTC is 11:00 in Sydney (AEDT) and 19:00 the day before in New York (EST).
        ("daily 08:00", utc(2025, 11, 24), SYDNEY, utc(2025, 11, 24, 21)),
        ("daily 08:00", utc(2025, 11, 24), NEW_YORK, utc(2025, 11, 24, 13)),
        ("daily 20:00", utc(2025, 11, 24), NEW_YORK, utc(2025, 11, 24, 1)),  # still Sunday there
        ("weekly mon 08:00", utc(2025, 11, 24), SYDNEY, utc(2025, 11, 30, 21)),
        ("weekly mon 08:00", utc(2025, 11, 24), NEW_YORK, utc(2025, 11, 24, 13)),
        ("weekly sunday 19:30", utc(2025, 11, 24), NEW_YORK, utc(2025, 11, 24, 0, 30)),
        ("weekly sunday 18:30", utc(2025, 11, 24), NEW_YORK, utc(2025, 11, 30, 23, 30)),
        ("hourly", utc(2025, 11, 24, 10, 20), SYDNEY, utc(2025, 11, 24, 11)),
        ("hourly", utc(2025, 11, 24, 10, 20), KOLKATA, utc(2025, 11, 24, 10, 30)),  # UTC+05:30
    ],
)
def test_next_due_on_the_subscribers_clock(
    text: str, after: datetime, tz: ZoneInfo, expected: datetime
) -> None:
    result = due(text, after, tz)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize("text", ["hourly", "daily 08:00", "weekly mon 08:00"])
def test_next_due_is_strictly_after(text: str) -> None:
    first = due(text, utc(2025, 11, 24, 3, 7), SYDNEY)
    second = due(text, first, SYDNEY)
    assert second > first
    assert due(text, first - timedelta(microseconds=1), SYDNEY) == first


@pytest.mark.parametrize(
    ("tz", "start", "skipped_day"),
    [
        (SYDNEY, utc(2025, 10, 3, 12), "2025-10-05"),  # 02:00 AEST → 03:00 AEDT on 5 Oct 2025
        (NEW_YORK, utc(2025, 3, 7, 12), "2025-03-09"),  # 02:00 EST → 03:00 EDT on 9 Mar 2025
    ],
)
def test_daily_time_in_a_spring_forward_gap_neither_crashes_nor_skips_a_day(
    tz: ZoneInfo, start: datetime, skipped_day: str
) -> None:
    moments = []
    after = start
    for _ in range(4):
        after = due("daily 02:30", after, tz)
        moments.append(after.astimezone(tz))
    days = [m.date() for m in moments]
    assert days == [days[0] + timedelta(days=n) for n in range(4)]
    gap_day = next(m for m in moments if m.date().isoformat() == skipped_day)
    assert (gap_day.hour, gap_day.minute) == (3, 30)  # as if the clock had not jumped
    assert all((m.hour, m.minute) == (2, 30) for m in moments if m is not gap_day)


def test_daily_time_repeated_by_fall_back_runs_once() -> None:
    # New York repeats 01:00–02:00 on 2 Nov 2025; the first 01:30 (EDT) is the one.
    first = due("daily 01:30", utc(2025, 11, 1, 12), NEW_YORK)
    assert first == utc(2025, 11, 2, 5, 30)
    assert due("daily 01:30", first, NEW_YORK) == utc(2025, 11, 3, 6, 30)


def test_hourly_across_spring_forward_goes_to_the_next_real_hour() -> None:
    assert due("hourly", utc(2025, 3, 9, 6, 30), NEW_YORK) == utc(2025, 3, 9, 7)  # 01:30 EST → 03:00 EDT


def test_next_due_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        due("hourly", datetime(2025, 1, 1), SYDNEY)


# ---------------------------------------------------------------------------------------- digest body


def alert(company: str | None, title: str, at: datetime, number: int, **changes: Any) -> Alert:
    posting = Posting(
        source="board",
        external_id=str(number),
        title=title,
        company=company,
        url=f"https://jobs.example.com/{number}",
        locations=(Location("Sydney", city="Sydney", country="AU"),),
        deadline=utc(2025, 12, 1, 12),
        **changes,
    )
    event = Event(EventType.NEW, "board", str(number), title, company, posting.url, at)
    return Alert(event, posting)


DAY = [
    alert("TikTok", "ML Intern", utc(2025, 11, 24, 9), 1),
    alert("Atlassian", "Data Intern", utc(2025, 11, 24, 8), 2),
    alert("TikTok", "Data Scientist Intern", utc(2025, 11, 24, 7), 3),
    alert(None, "Research Intern", utc(2025, 11, 24, 6), 4),
    alert("atlassian", "Analyst Intern", utc(2025, 11, 24, 10), 5),
]


@pytest.mark.parametrize(
    ("tz", "deadline"), [(SYDNEY, "Mon 1 Dec 2025, 23:00 AEDT"), (NEW_YORK, "Mon 1 Dec 2025, 07:00 EST")]
)
@pytest.mark.parametrize("format", list(MessageFormat))
def test_digest_groups_by_company_then_event_time(format: MessageFormat, tz: ZoneInfo, deadline: str) -> None:
    [message] = render_digest(DAY, subscription="ds-interns", format=format, timezone=tz, limits=(250, 32768))
    assert message.title == "rolewatch digest — ds-interns: 5 roles"
    body = message.body
    order = [
        body.index(name) for name in ("Data Intern", "Analyst Intern", "Data Scientist Intern", "ML Intern")
    ]
    assert order == sorted(order)  # Atlassian (case-blind) before TikTok; within, by event time
    assert body.index("Atlassian") < body.index("TikTok") < body.index("Other companies")
    assert body.index("Other companies") < body.index("Research Intern")
    assert deadline in body


def test_digest_of_one_role_says_role() -> None:
    [message] = render_digest(
        DAY[:1], subscription="x", format=MessageFormat.TEXT, timezone=SYDNEY, limits=(250, 4000)
    )
    assert message.title == "rolewatch digest — x: 1 role"


@pytest.mark.parametrize("format", list(MessageFormat))
def test_long_digest_is_split_without_cutting_an_alert(format: MessageFormat) -> None:
    many = [
        alert(f"Company {n % 7}", f"Role number {n}", utc(2025, 11, 24) + timedelta(minutes=n), n)
        for n in range(60)
    ]
    messages = render_digest(many, subscription="big", format=format, timezone=SYDNEY, limits=(250, 1200))
    assert len(messages) > 2
    for part, message in enumerate(messages, start=1):
        assert message.title == f"rolewatch digest — big: 60 roles ({part}/{len(messages)})"
        assert len(message.body) <= 1200
        assert "…" not in message.body
    everything = "\n".join(m.body for m in messages)
    for n in range(60):
        assert len(re.findall(rf"https://jobs\.example\.com/{n}\b", everything)) == 1
        assert f"Role number {n}" in everything


def test_split_digest_keeps_company_order_across_parts() -> None:
    many = [
        alert(f"Company {n % 3}", f"Role {n}", utc(2025, 11, 24) + timedelta(minutes=n), n) for n in range(30)
    ]
    messages = render_digest(
        many, subscription="s", format=MessageFormat.TEXT, timezone=SYDNEY, limits=(250, 500)
    )
    everything = "\n".join(m.body for m in messages)
    firsts = [everything.index(f"Company {n}") for n in range(3)]
    assert firsts == sorted(firsts)
