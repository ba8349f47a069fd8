"""What the running daemon knows about itself: written by the scheduler, read by `/healthz` and `/metrics`.

The scheduler updates one `DaemonState` in its event loop; the HTTP endpoints read it there
too, so no lock is needed. Everything the database knows (verdicts, postings, the outbox) is
read from the database instead, so a standby and an active instance report the same figures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class SourceSchedule:
    """One source's place in the schedule."""

    name: str
    next_run_at: datetime | None = None
    last_started_at: datetime | None = None
    last_finished_at: datetime | None = None
    last_verdict: str | None = None
    running: bool = False


@dataclass
class DaemonState:
    """The daemon's own view: alive, active or standby, and each source's schedule."""

    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: Touched by the scheduler loop every few seconds; a stale heartbeat means a stuck loop.
    heartbeat_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    #: True once this instance holds the scheduler lock; a standby serves `/healthz` too.
    active: bool = False
    #: Said by `/healthz` instead of active/standby: "worker" for `rolewatch worker`.
    role: str | None = None
    sources: dict[str, SourceSchedule] = field(default_factory=dict)
    stopping: bool = False

    def beat(self, now: datetime | None = None) -> None:
        self.heartbeat_at = now or datetime.now(UTC)

    def alive(self, now: datetime, stale_after: timedelta = timedelta(seconds=60)) -> bool:
        return not self.stopping and now - self.heartbeat_at <= stale_after

    def overdue(self, now: datetime, grace: timedelta) -> list[str]:
        """Sources whose next run is more than `grace` in the past and that are not running now."""
        return sorted(
            schedule.name
            for schedule in self.sources.values()
            if not schedule.running
            and schedule.next_run_at is not None
            and now - schedule.next_run_at > grace
        )
