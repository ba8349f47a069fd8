"""Rebuilding the schedule at start: a restart neither loses a source's run nor fires them all at once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rolewatch.config import Schedule
from scheduler.schedule import (
    CATCH_UP_STEP,
    CATCH_UP_WINDOW,
    cron_trigger,
    cron_weekdays,
    first_runs,
    planned_run,
    trigger_for,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday
EVERY_30M = Schedule(every=timedelta(minutes=30))


def plan(
    schedule: Schedule = EVERY_30M,
    last: datetime | None = None,
    due: datetime | None = None,
    jitter: float = 0.0,
) -> datetime:
    return planned_run(schedule, now=NOW, last_crawl_at=last, next_due_at=due, jitter=jitter)


def test_a_source_never_crawled_is_due_now() -> None:
    assert plan() == NOW


def test_the_planned_run_survives_a_restart() -> None:
    due = NOW + timedelta(minutes=12, seconds=7)
    assert plan(last=NOW - timedelta(minutes=20), due=due, jitter=0.1) == due


def test_a_run_killed_with_the_daemon_is_due_again_at_once() -> None:
    # The daemon planned 11:50, started that crawl and was killed before recording it.
    planned = plan(last=NOW - timedelta(minutes=40), due=NOW - timedelta(minutes=10))
    assert planned == NOW - timedelta(minutes=10)
    assert planned <= NOW


def test_a_manual_crawl_after_the_plan_moves_the_next_run_from_that_crawl() -> None:
    last = NOW - timedelta(minutes=5)
    assert plan(last=last, due=NOW - timedelta(minutes=10)) == last + timedelta(minutes=30)


def test_without_a_plan_the_next_run_follows_the_last_crawl() -> None:
    assert plan(last=NOW - timedelta(minutes=10)) == NOW + timedelta(minutes=20)
    assert plan(last=NOW - timedelta(hours=3)) <= NOW


def test_a_shortened_interval_applies_at_once() -> None:
    # Planned under a daily interval; the configuration now says every 30 minutes.
    assert plan(last=NOW - timedelta(hours=1), due=NOW + timedelta(hours=23)) == NOW + timedelta(minutes=30)
    assert plan(due=NOW + timedelta(hours=23), jitter=0.1) == NOW + timedelta(minutes=33)


def test_cron_runs_at_its_next_time_and_catches_up_a_missed_one() -> None:
    hourly = Schedule(cron="0 * * * *")
    now = NOW + timedelta(minutes=10)

    def cron_plan(last: datetime | None) -> datetime:
        return planned_run(hourly, now=now, last_crawl_at=last, next_due_at=None)

    assert cron_plan(None) == NOW + timedelta(hours=1)
    assert cron_plan(NOW + timedelta(seconds=2)) == NOW + timedelta(hours=1)  # the 12:00 run happened
    assert cron_plan(NOW - timedelta(minutes=30)) == NOW  # 12:00 was missed while down: due now


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("0", "sun"),
        ("7", "sun"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0,6", "sun,sat"),
        ("*/2", "sun,tue,thu,sat"),
        ("1-5/2", "mon,wed,fri"),
        ("*", "*"),
        ("mon-fri", "mon-fri"),
    ],
)
def test_cron_weekdays_count_from_sunday_as_cron_does(field: str, expected: str) -> None:
    assert cron_weekdays(field) == expected


def test_a_cron_weekday_zero_fires_on_sunday() -> None:
    fire = cron_trigger("0 9 * * 0").get_next_fire_time(None, NOW)
    assert fire == datetime(2026, 11, 29, 9, 0, tzinfo=UTC)
    assert fire.strftime("%A") == "Sunday"


def test_cron_times_are_utc() -> None:
    fire = cron_trigger("30 3 * * *").get_next_fire_time(None, NOW)
    assert fire == datetime(2026, 11, 24, 3, 30, tzinfo=UTC)


def test_jitter_is_a_share_of_the_period() -> None:
    assert trigger_for(EVERY_30M, 0.1).jitter == pytest.approx(180)
    assert trigger_for(EVERY_30M, 0.0).jitter is None
    assert cron_trigger("*/15 * * * *", 0.2).jitter == pytest.approx(180)


def test_future_runs_are_kept_and_overdue_ones_spread_most_overdue_first() -> None:
    ahead = NOW + timedelta(minutes=7)
    runs = first_runs(
        {
            "ahead": ahead,
            "late": NOW - timedelta(minutes=1),
            "later": NOW - timedelta(hours=2),
            "new": NOW,
        },
        NOW,
    )
    assert runs["ahead"] == ahead
    assert [runs["later"], runs["late"], runs["new"]] == [NOW, NOW + CATCH_UP_STEP, NOW + 2 * CATCH_UP_STEP]


def test_a_long_outage_catches_up_within_the_window() -> None:
    runs = first_runs({f"s{n}": NOW - timedelta(hours=1) for n in range(600)}, NOW)
    starts = sorted(runs.values())
    assert starts[0] == NOW and starts[-1] < NOW + CATCH_UP_WINDOW
    assert len(set(starts)) == 600
