"""When each source runs: its APScheduler trigger, and its first run when the daemon (re)starts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from rolewatch.config import Schedule

#: Overdue sources start this far apart after a (re)start, so a long outage does not fire them all at once…
CATCH_UP_STEP = timedelta(seconds=1)
#: …unless there are so many that this window would be exceeded; then they share it evenly.
CATCH_UP_WINDOW = timedelta(minutes=1)

# Standard cron numbers weekdays from Sunday (0 or 7); APScheduler 3.x from Monday. Names agree.
_CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")
_NUMERIC_WEEKDAYS = re.compile(r"^(\*|\d)(?:-(\d))?(?:/(\d+))?$")


def crontab_trigger(expression: str) -> Any:
    """A five-field crontab expression as an APScheduler trigger in UTC, with cron's own weekdays.

    APScheduler 3.x's `CronTrigger.from_crontab` reads 0 as Monday (its issue 286), so numeric
    weekdays are spelled out as names first. A ValueError says what is wrong with the expression.
    """
    fields = expression.split()
    if len(fields) != 5:
        raise ValueError(f"wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, weekday = fields
    return CronTrigger(
        minute=minute, hour=hour, day=day, month=month, day_of_week=cron_weekdays(weekday), timezone=UTC
    )


def cron_weekdays(field: str) -> str:
    """`1-5` → `mon,tue,wed,thu,fri`; `*/2` → `sun,tue,thu,sat`; names and `*` pass through."""
    names: list[str] = []
    for part in field.split(","):
        match = _NUMERIC_WEEKDAYS.match(part)
        if not match or (match.group(1) == "*" and not match.group(3)):
            names.append(part)
            continue
        start, end, step = match.groups()
        first = 0 if start == "*" else int(start)
        last = 6 if start == "*" else int(end) if end is not None else first
        if step is not None and end is None and start != "*":
            last = 6
        numbers = range(first, last + 1, int(step or 1))
        names.extend(_CRON_WEEKDAYS[n] for n in numbers if 0 <= n <= 7)
    return ",".join(dict.fromkeys(names)) or field


def next_cron_fire(expression: str, now: datetime) -> datetime | None:
    """When a crontab expression next fires after `now`, in UTC; None when it never does."""
    fire: datetime | None = crontab_trigger(expression).get_next_fire_time(None, now)
    return fire.astimezone(UTC) if fire is not None else None


def trigger_for(schedule: Schedule, jitter: float) -> Any:
    """The APScheduler trigger of `schedule`, in UTC, each run delayed by up to `jitter` of its period."""
    if schedule.cron:
        return cron_trigger(schedule.cron, jitter)
    every = schedule.every or timedelta(minutes=30)
    return IntervalTrigger(
        seconds=every.total_seconds(), jitter=jitter * every.total_seconds() or None, timezone=UTC
    )


def cron_trigger(expression: str, jitter: float = 0.0) -> Any:
    """A five-field crontab expression with cron's own weekday numbers (0 and 7 are Sunday).

    APScheduler 3.x's `CronTrigger.from_crontab` reads 0 as Monday (its issue 286), so numeric
    weekdays are spelled out as names first. The jitter is a share of the gap between two runs.
    """
    minute, hour, day, month, weekday = expression.split()
    fields = {"minute": minute, "hour": hour, "day": day, "month": month}
    trigger = crontab_trigger(expression)
    if jitter <= 0:
        return trigger
    first = trigger.get_next_fire_time(None, datetime.now(UTC))
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    if first is None or second is None:
        return trigger
    period = (second - first).total_seconds()
    return CronTrigger(
        **fields, day_of_week=cron_weekdays(weekday), timezone=UTC, jitter=jitter * period or None
    )


def planned_run(
    schedule: Schedule,
    *,
    now: datetime,
    last_crawl_at: datetime | None,
    next_due_at: datetime | None,
    jitter: float = 0.0,
) -> datetime:
    """When a source's own history says it runs next; a time at or before `now` means overdue.

    `next_due_at` is the run the last daemon planned. It counts only while it lies after the last
    recorded crawl: a crawl that started and was never recorded (the daemon was killed) leaves
    it in the past, so that run happens again at once instead of being lost. A plan older than
    the last crawl (a manual `rolewatch crawl` since) falls back to the schedule. A plan further
    off than one period from now (the interval was shortened) is pulled in.
    """
    if schedule.cron:
        after = (last_crawl_at or now) + timedelta(seconds=1)
        fire: datetime | None = cron_trigger(schedule.cron).get_next_fire_time(None, after)
        return fire.astimezone(UTC) if fire is not None else now + timedelta(days=366)
    every = schedule.every or timedelta(minutes=30)
    if next_due_at is not None and (last_crawl_at is None or next_due_at > last_crawl_at):
        planned = next_due_at
    elif last_crawl_at is not None:
        planned = last_crawl_at + every
    else:
        return now
    return min(planned, now + every * (1 + jitter))


def first_runs(planned: Mapping[str, datetime], now: datetime) -> dict[str, datetime]:
    """Each source's first run: its plan if still ahead; overdue ones from now on, most overdue first.

    Overdue sources are spread `CATCH_UP_STEP` apart (closer when there are many, so all start
    within `CATCH_UP_WINDOW`): a restart after an outage neither loses their runs nor fires
    them at once. Sources on one host still share a crawl batch when they are due together.
    """
    overdue = sorted((at, name) for name, at in planned.items() if at <= now)
    step = min(CATCH_UP_STEP, CATCH_UP_WINDOW / len(overdue)) if overdue else CATCH_UP_STEP
    runs = {name: at for name, at in planned.items() if at > now}
    for index, (_, name) in enumerate(overdue):
        runs[name] = now + step * index
    return runs
