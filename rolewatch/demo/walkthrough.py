"""The scripted rounds beside the daemon: change the boards, wait for their crawls, show what came of it."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from rolewatch.demo.printing import Tally
from rolewatch.demo.scenario import BOARDS
from rolewatch.domain import plural

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from notifier.matching import SubscriptionBook
    from rolewatch.config import Config
    from rolewatch.demo.printing import Printer
    from rolewatch.demo.scenario import Scenario
    from rolewatch.demo.server import SampleBoards
    from scheduler.active import RunTrace

#: A round in which some board is not crawled completely within this long ends the demo with an error.
ROUND_TIMEOUT_S = 90.0
#: How long each round waits for the outbox sender to try its alerts (with --notify).
DELIVERY_WAIT_S = 15.0
#: Alerts on the terminal are rendered as plain text within these (title, body) limits.
TERMINAL_LIMITS = (250, 450)


class Walkthrough:
    """The daemon and, beside it, the scripted rounds: change the boards, wait, show what came of it."""

    def __init__(
        self,
        config: Config,
        engine: Engine,
        scenario: Scenario,
        boards: SampleBoards,
        printer: Printer,
        rounds: int,
    ) -> None:
        from notifier.matching import SubscriptionBook

        self.config = config
        self.engine = engine
        self.scenario = scenario
        self.boards = boards
        self.out = printer
        self.rounds = rounds
        self.tally = Tally()
        self._book: SubscriptionBook = SubscriptionBook(config)
        self._traces: asyncio.Queue[RunTrace] = asyncio.Queue()
        self._last_event = 0
        self._reported: set[int] = set()
        self._failures_shown: set[str] = set()
        self._by_round: dict[int, Counter[str]] = {}
        self._seen_crawls: set[int] = set()

    async def play(self) -> Tally:
        """Until the last round is shown (or Ctrl-C): the daemon in one task, the rounds in another."""
        from rolewatch.cli.common import RuntimeFailure
        from scheduler.daemon import Daemon, DaemonError
        from scheduler.lock import NoLock

        daemon = Daemon(
            self.config,
            self.engine,
            reload_config=lambda: self.config,
            lock=NoLock("the demo's own database"),
            on_run=self._traces.put_nowait,
        )
        running = asyncio.create_task(daemon.run(), name="daemon")
        script = asyncio.create_task(self._play_rounds(), name="demo rounds")
        try:
            await asyncio.wait({running, script}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            daemon.request_stop("the demo is over")
            if not script.done():
                script.cancel()
                self.tally.interrupted = True
            with self.out.waiting("stopping the daemon…"):
                await asyncio.gather(script, return_exceptions=True)
                try:
                    await running
                except DaemonError as error:
                    raise RuntimeFailure(str(error)) from None
        if not script.cancelled():
            script.result()
        return self.tally

    async def _play_rounds(self) -> None:
        changed_at = datetime.now(UTC)
        for number in range(1, self.rounds + 1):
            step = self.scenario.step(number)
            self.out.heading(f"Round {number} of {self.rounds}: {step.headline}")
            self.out.line(f"  {step.story}", style="dim")
            if number > 1:
                changed_at = datetime.now(UTC)
                self.boards.show(number)
            started = time.monotonic()
            with self.out.waiting(f"round {number}: waiting for the daemon's crawls…"):
                crawls = await self._crawl_round(number, changed_at)
                if self.config.subscriptions[0].notify:
                    await self._report_deliveries()
            self.tally.rounds = number
            self.out.line(
                f"  round {number}: {plural(crawls, 'crawl')}, {self._round_events(number)} in "
                f"{time.monotonic() - started:.1f}s",
                style="dim",
            )

    def _round_events(self, number: int) -> str:
        counts = self._by_round.get(number, Counter())
        return ", ".join(f"{n} {kind}" for kind, n in counts.items()) or "no events"

    async def _crawl_round(self, number: int, changed_at: datetime) -> int:
        """Show each crawl's events as it is recorded, until every board has been crawled completely
        by a crawl that started after the change (an earlier one may have read the old board)."""
        waiting = {board.source for board in BOARDS}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + ROUND_TIMEOUT_S
        crawls = 0
        while waiting:
            try:
                trace = await asyncio.wait_for(self._traces.get(), timeout=max(0.0, deadline - loop.time()))
            except TimeoutError:
                raise _round_timeout(number, waiting) from None
            if trace.crawl_id is not None:  # a source pulled into a batch can report its crawl twice
                if trace.crawl_id in self._seen_crawls:
                    continue
                self._seen_crawls.add(trace.crawl_id)
            crawls += 1
            self.tally.crawls[trace.verdict or "unrecorded"] += 1
            await self._show_new_events(number)
            began = trace.batch_started_at or trace.queued_at
            if trace.verdict == "complete" and began >= changed_at:
                waiting.discard(trace.source)
            elif trace.verdict != "complete":
                await self._show_trouble(trace)
        return crawls

    async def _show_new_events(self, number: int) -> None:
        from notifier.messages import Alert, MessageFormat, render_alert
        from storage.queries import events_after

        subscription = self.config.subscriptions[0]
        for stored in await asyncio.to_thread(events_after, self.engine, self._last_event):
            event = stored.event
            self._last_event = max(self._last_event, event.id or 0)
            self.tally.events[event.type.value] += 1
            self._by_round.setdefault(number, Counter())[event.type.value] += 1
            self.out.event(event)
            if subscription.name not in self._book.matching(event, stored.posting):
                self.out.no_alert(subscription.name)
                continue
            message = render_alert(
                Alert(event=event, posting=stored.posting, opened_at=stored.opened_at),
                format=MessageFormat.TEXT,
                timezone=ZoneInfo(subscription.timezone),
                limits=TERMINAL_LIMITS,
            )
            self.out.alert(subscription.name, message)
            self.tally.alerts += 1

    async def _show_trouble(self, trace: RunTrace) -> None:
        from storage.queries import crawl_log

        if trace.source in self._failures_shown:
            return
        self._failures_shown.add(trace.source)
        logged = await asyncio.to_thread(crawl_log, self.engine, trace.source, 1)
        reason = (logged[0].reason or logged[0].note) if logged else ""
        why = f": {reason}" if reason else ""
        self.out.line(
            f"  {trace.source}: the crawl was {trace.verdict}{why}; the daemon tries again", "yellow"
        )

    async def _report_deliveries(self) -> None:
        """Wait (a little) for the outbox sender to try every alert so far; say how each channel did."""
        from storage.outbox import PENDING, list_deliveries

        loop = asyncio.get_running_loop()
        deadline = loop.time() + DELIVERY_WAIT_S
        while True:
            rows = await asyncio.to_thread(list_deliveries, self.engine, limit=None)
            fresh = [r for r in rows if r.id not in self._reported]
            untried = [r for r in fresh if r.status == PENDING and r.attempts == 0]
            if not untried or loop.time() > deadline:
                break
            await asyncio.sleep(0.2)
        by_channel: dict[str, Counter[str]] = {}
        errors: dict[str, str] = {}
        untried_ids = {row.id for row in untried}
        for row in fresh:
            if row.id in untried_ids:
                continue
            self._reported.add(row.id)
            by_channel.setdefault(row.channel, Counter())[row.status] += 1
            if row.last_error:
                errors[row.channel] = row.last_error
        for channel, counts in by_channel.items():
            if counts["sent"]:
                self.out.line(f"  outbox: sent {plural(counts['sent'], 'alert')} to {channel}", "green")
            failed = counts.total() - counts["sent"]
            if failed:
                error = errors.get(channel, "no reason given")
                self.out.line(
                    f"  outbox: {plural(failed, 'alert')} to {channel} failed (retried later): {error}", "red"
                )
        if untried:
            self.out.line(
                f"  outbox: {plural(len(untried), 'alert')} not tried yet (the daemon keeps them)", "yellow"
            )


def _round_timeout(number: int, waiting: set[str]) -> Exception:
    from rolewatch.cli.common import RuntimeFailure

    return RuntimeFailure(
        f"round {number}: no complete crawl of {', '.join(sorted(waiting))} within {ROUND_TIMEOUT_S:.0f}s "
        "(see the messages above; `rolewatch -v demo` shows the daemon's log)"
    )
