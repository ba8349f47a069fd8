"""`rolewatch demo`: a walkthrough with no network: sample boards on 127.0.0.1, the real daemon, its alerts.

The boards in `rolewatch/samples` (invented companies, in each board's real shape) are served by a
loopback HTTP server; `scheduler.daemon.Daemon` crawls them on a short interval into a private
SQLite database while `samples/scenario.json` changes them between rounds. Every event the
daemon records is printed as it arrives, with the alert the demo subscription receives for it;
with `--notify` the daemon's own outbox sender delivers those alerts to a real channel as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import logging
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import click
from rich.console import Console
from rich.markup import escape

from rolewatch.config import format_duration, parse_duration

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from notifier.matching import SubscriptionBook
    from notifier.messages import Message
    from rolewatch.config import Config
    from rolewatch.domain import Event
    from scheduler.active import RunTrace
    from storage.outbox import StoredAlert

#: The demo subscription: what a student looking for a first role might ask for.
SUBSCRIPTION = "interns"
QUERY = "intern OR internship OR graduate"
#: Scripted rounds may be followed by quiet ones, up to this many in all.
MAX_ROUNDS = 8
#: A round in which some board is not crawled completely within this long ends the demo with an error.
ROUND_TIMEOUT_S = 90.0
#: How long each round waits for the outbox sender to try its alerts (with --notify).
DELIVERY_WAIT_S = 15.0
#: Alerts on the terminal are rendered as plain text within these (title, body) limits.
TERMINAL_LIMITS = (250, 450)
#: The first crawl of every board is planned this long after the database is ready: all at one
#: time, so that they share one crawl process every round (overdue sources would be staggered).
FIRST_CRAWL_IN = timedelta(seconds=1.5)
#: A changed value longer than this is shortened on the event's line.
CHANGE_CHARS = 70
ROBOTS_TXT = b"User-agent: *\nAllow: /\n"
_EVENT_STYLES = {"new": "green", "changed": "yellow", "closed": "red", "reopened": "cyan"}


# --- the sample boards -------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleBoard:
    """One bundled board: its sample file, the source that watches it, and where the server has it."""

    key: str
    source: str
    type: str
    file: str
    path: str
    label: str
    #: The object key holding the records (Greenhouse's `jobs`), or None for a bare JSON array.
    wrapper: str | None = None
    #: Lever pages with skip/limit; the others send the whole board at once.
    paged: bool = False

    def source_yaml(self, server: str) -> str:
        q = json.dumps
        if self.type == "greenhouse":
            return f"{{name: {self.source}, type: greenhouse, board: wombat, base_url: {q(server)}}}"
        if self.type == "lever":
            return (
                f"{{name: {self.source}, type: lever, site: numbat, company: Numbat Robotics, "
                f"base_url: {q(server)}}}"
            )
        url = q(server + self.path)
        return f"{{name: {self.source}, type: simplify, url: {url}, employment_type: intern}}"


BOARDS = (
    SampleBoard(
        "greenhouse",
        "wombat",
        "greenhouse",
        "greenhouse.json",
        "/v1/boards/wombat/jobs",
        "Wombat Data Co.'s Greenhouse board",
        wrapper="jobs",
    ),
    SampleBoard(
        "lever",
        "numbat",
        "lever",
        "lever.json",
        "/v0/postings/numbat",
        "Numbat Robotics' Lever site",
        paged=True,
    ),
    SampleBoard(
        "simplify",
        "internships",
        "simplify",
        "simplify.json",
        "/internships/listings.json",
        "a student internship list (Simplify-style listings.json)",
    ),
)


@dataclass(frozen=True)
class Step:
    """One scripted round: what happens, which postings are off their board, and the edits it makes."""

    headline: str
    story: str
    withhold: Mapping[str, frozenset[str]] = field(default_factory=dict)
    edits: Mapping[str, Mapping[str, Mapping[str, Any]]] = field(default_factory=dict)


def _step(raw: Mapping[str, Any]) -> Step:
    return Step(
        headline=str(raw["headline"]),
        story=str(raw["story"]),
        withhold={key: frozenset(map(str, ids)) for key, ids in (raw.get("withhold") or {}).items()},
        edits=raw.get("edit") or {},
    )


class Scenario:
    """The sample boards and how `samples/scenario.json` changes them, round by round.

    A round's edits stay made in later rounds; the postings it withholds are off their board in
    that round only. Rounds after the scripted ones are quiet: the boards stay as the last left them.
    """

    def __init__(
        self, records: Mapping[str, list[dict[str, Any]]], steps: Sequence[Step], quiet: Step
    ) -> None:
        if not steps:
            raise ValueError("the demo scenario has no rounds")
        self._records = records
        self.steps = list(steps)
        self.quiet = quiet

    @classmethod
    def load(cls) -> Scenario:
        samples = resources.files("rolewatch").joinpath("samples")
        records: dict[str, list[dict[str, Any]]] = {}
        for board in BOARDS:
            data = json.loads(samples.joinpath(board.file).read_text(encoding="utf-8"))
            records[board.key] = list(data[board.wrapper] if board.wrapper else data)
        script = json.loads(samples.joinpath("scenario.json").read_text(encoding="utf-8"))
        return cls(records, [_step(raw) for raw in script["rounds"]], _step(script["quiet"]))

    def step(self, number: int) -> Step:
        return self.steps[number - 1] if number <= len(self.steps) else self.quiet

    def board(self, board: SampleBoard, number: int) -> list[dict[str, Any]]:
        """The records `board` lists in round `number` (counted from 1)."""
        scripted = self.steps[: min(number, len(self.steps))]
        withheld = scripted[-1].withhold.get(board.key, frozenset())
        listed = []
        for original in self._records[board.key]:
            record = copy.deepcopy(original)
            key = str(record["id"])
            for step in scripted:
                _apply(record, step.edits.get(board.key, {}).get(key, {}))
            if key not in withheld:
                listed.append(record)
        return listed


def _apply(record: dict[str, Any], edit: Mapping[str, Any]) -> None:
    unknown = set(edit) - {"set"}
    if unknown:
        raise ValueError(f"the demo scenario's edit of {record['id']} has unknown keys {sorted(unknown)}")
    record.update(edit.get("set") or {})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64


class SampleBoards:
    """A loopback HTTP server answering for the three sample boards, switched from round to round."""

    def __init__(self, scenario: Scenario) -> None:
        self._scenario = scenario
        self._lock = threading.Lock()
        self._content: dict[str, tuple[SampleBoard, list[dict[str, Any]]]] = {}
        self.requests = 0
        self._server = _Server(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="demo boards", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> SampleBoards:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def show(self, number: int) -> None:
        """From now on, serve the boards as they are in round `number`."""
        content = {board.path: (board, self._scenario.board(board, number)) for board in BOARDS}
        with self._lock:
            self._content = content

    def answer(self, target: str) -> tuple[int, bytes, str]:
        """Status, body and content type for a GET of `target` (a path with its query)."""
        parts = urlsplit(target)
        with self._lock:
            self.requests += 1
            found = self._content.get(parts.path)
        if parts.path == "/robots.txt":
            return 200, ROBOTS_TXT, "text/plain; charset=utf-8"
        if found is None:
            return 404, b'{"error": "not found"}', "application/json"
        board, records = found
        payload: Any = records
        if board.paged:
            query = dict(parse_qsl(parts.query))
            skip, limit = int(query.get("skip") or 0), int(query.get("limit") or 100)
            payload = records[skip : skip + limit]
        elif board.wrapper:
            payload = {board.wrapper: records, "meta": {"total": len(records)}}
        return 200, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        boards = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self._reply(body=True)

            def do_HEAD(self) -> None:
                self._reply(body=False)

            def _reply(self, *, body: bool) -> None:
                status, content, kind = boards.answer(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                    self.send_response(status)
                    self.send_header("Content-Type", kind)
                    self.send_header("Content-Length", str(len(content)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    if body:
                        self.wfile.write(content)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the demo prints what the daemon makes of the boards instead."""

        return Handler


# --- the configuration -------------------------------------------------------------------------


def config_yaml(database: str, server: str, interval: timedelta, channels: Sequence[str]) -> str:
    """The demo's configuration, as a user would write it in rolewatch.yaml."""
    q = json.dumps
    sources = "".join(f"  - {board.source_yaml(server)}\n" for board in BOARDS)
    return (
        "# rolewatch demo: three sample boards served on 127.0.0.1 while the demo ran.\n"
        f"database: {q(database)}\n"
        "defaults:\n"
        f"  interval: {format_duration(interval)}\n"
        "  jitter: 0%\n"
        "  close_after_misses: 1   # one crawl without a posting closes it (the default, 2, is steadier)\n"
        "  timeout: 30s\n"
        "  politeness: {delay: 0s, autothrottle: false, retries: 1, request_timeout: 10s}\n"
        f"sources:\n{sources}"
        "subscriptions:\n"
        f"  - name: {SUBSCRIPTION}\n"
        f"    query: {q(QUERY)}\n"
        "    events: [new, changed, closed, reopened]\n"
        f"    notify: [{', '.join(q(url) for url in channels)}]\n"
        "delivery: {first_retry: 5s, retry_for: 1m, send_timeout: 10s}\n"
        "daemon: {grace: 10s, deliver_every: 1s}\n"
    )


# --- the output --------------------------------------------------------------------------------


class Printer:
    """Styled on a terminal, plain lines anywhere else; never wrapped, so a pipe gets whole lines."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def line(self, text: str = "", style: str | None = None) -> None:
        self.console.print(escape(text), style=style)

    def heading(self, text: str) -> None:
        self.console.print()
        self.console.print(f"[bold]{escape(text)}[/bold]")

    def fact(self, label: str, text: str) -> None:
        self.console.print(f"  [dim]{escape(label):<13}[/dim]{escape(text)}")

    def event(self, event: Event) -> None:
        kind = event.type.value
        company = f" — {event.company}" if event.company else ""
        self.console.print(
            f"  [bold {_EVENT_STYLES[kind]}]{kind.upper():<9}[/] {escape(event.source):<12} "
            f"{escape(event.title)}{escape(company)}"
        )
        for name, (old, new) in event.changes.items():
            if name == "description":
                self.console.print("  " + " " * 23 + "[dim]description: reworded[/dim]")
                continue
            change = f"{name}: {_short(old)} → {_short(new)}"
            self.console.print("  " + " " * 23 + escape(change))

    def alert(self, subscription: str, message: Message) -> None:
        to = escape(subscription)
        self.console.print(f"      [magenta]alert to {to}:[/] [bold]{escape(message.title)}[/]")
        for text in message.body.splitlines():
            self.console.print(f"      [dim]│[/dim] {escape(text)}")

    def no_alert(self, subscription: str) -> None:
        self.console.print(f"      [dim]no alert: not a role {escape(subscription)} asked for[/dim]")

    def waiting(self, what: str) -> contextlib.AbstractContextManager[Any]:
        if self.console.is_terminal:
            return self.console.status(what)
        return contextlib.nullcontext()


def _short(value: str | None) -> str:
    text = " ".join(str(value or "—").split())
    return text if len(text) <= CHANGE_CHARS else text[: CHANGE_CHARS - 1] + "…"


# --- the walkthrough ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What happened, for the summary."""

    crawls: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)
    rounds: int = 0
    interrupted: bool = False


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
        from rolewatch.cli import RuntimeFailure
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
                f"  round {number}: {crawls} crawls, {self._round_events(number)} in "
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
                self.out.line(f"  outbox: sent {counts['sent']} alerts to {channel}", "green")
            failed = counts.total() - counts["sent"]
            if failed:
                error = errors.get(channel, "no reason given")
                self.out.line(
                    f"  outbox: {failed} alerts to {channel} failed (retried later): {error}", "red"
                )
        if untried:
            self.out.line(f"  outbox: {len(untried)} alerts not tried yet (the daemon keeps them)", "yellow")


def _round_timeout(number: int, waiting: set[str]) -> Exception:
    from rolewatch.cli import RuntimeFailure

    return RuntimeFailure(
        f"round {number}: no complete crawl of {', '.join(sorted(waiting))} within {ROUND_TIMEOUT_S:.0f}s "
        "(see the messages above; `rolewatch -v demo` shows the daemon's log)"
    )


def events_after(engine: Engine, after: int) -> list[StoredAlert]:
    """Every event recorded after event id `after`, oldest first, with its posting as stored now."""
    from sqlalchemy import select

    from storage.models import EventRow
    from storage.outbox import load_alerts

    with engine.connect() as connection:
        query = select(EventRow.id).where(EventRow.id > after).order_by(EventRow.id)
        ids = list(connection.execute(query).scalars())
        found = load_alerts(connection, ids)
    return [found[event_id] for event_id in ids if event_id in found]


# --- the command -------------------------------------------------------------------------------


def _check_channels(_ctx: click.Context, _param: click.Parameter, urls: tuple[str, ...]) -> tuple[str, ...]:
    from notifier.channels import validate_channel

    for url in urls:
        try:
            validate_channel(url)
        except ValueError as error:
            raise click.BadParameter(str(error)) from None
    return urls


def _check_interval(_ctx: click.Context, _param: click.Parameter, value: str) -> timedelta:
    try:
        interval = parse_duration(value)
    except ValueError as error:
        raise click.BadParameter(str(error)) from None
    if not timedelta(seconds=1) <= interval <= timedelta(minutes=1):
        raise click.BadParameter("use an interval from 1s to 1m")
    return interval


@click.command("demo")
@click.option(
    "--notify",
    "channels",
    multiple=True,
    metavar="URL",
    callback=_check_channels,
    help="Also send the alerts to this apprise URL (repeatable), e.g. json://127.0.0.1:8080/hook.",
)
@click.option(
    "--rounds",
    type=click.IntRange(1, MAX_ROUNDS),
    default=3,
    show_default=True,
    help="Rounds of board changes to watch (after the fourth, nothing changes).",
)
@click.option(
    "--interval",
    default="2s",
    show_default=True,
    callback=_check_interval,
    help="How often the daemon crawls each sample board (1s to 1m).",
)
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Keep the database (and a rolewatch.yaml to explore it with) in this directory.",
)
@click.pass_context
def demo(
    ctx: click.Context, channels: tuple[str, ...], rounds: int, interval: timedelta, keep: Path | None
) -> None:
    """Watch rolewatch work, with no network: sample boards on 127.0.0.1, the real daemon, its alerts.

    The daemon crawls three bundled sample boards while they change between rounds, and every
    event it records is shown with the alert a subscription to internships and graduate roles
    receives. Nothing is written outside a temporary directory unless --keep is given.
    """
    from rolewatch.cli import handle_errors

    handle_errors(_demo)(ctx, list(channels), rounds, interval, keep)


def _demo(
    ctx: click.Context, channels: list[str], rounds: int, interval: timedelta, keep: Path | None
) -> None:
    from rolewatch.config import parse_config
    from storage.database import make_engine

    started = time.monotonic()
    if not ctx.find_root().params.get("verbose"):
        # The demo reports each delivery itself; apprise's and the sender's warnings would repeat it.
        for chatty in ("apprise", "notifier.outbox"):
            logging.getLogger(chatty).setLevel(logging.ERROR)
    out = Printer(Console(highlight=False, soft_wrap=True))
    scenario = Scenario.load()
    _bypass_proxies_for_loopback()
    with _workspace(keep) as folder, SampleBoards(scenario) as boards:
        database = folder / "rolewatch.db"
        url = f"sqlite:///{database}"
        config = parse_config(config_yaml(url, boards.url, interval, channels), {}, origin="the demo")
        if keep is not None:  # without the channels: they may hold secrets
            (folder / "rolewatch.yaml").write_text(config_yaml(url, boards.url, interval, []), "utf-8")
        boards.show(1)
        _show_setup(out, database, boards.url, interval, channels, kept=keep is not None)
        engine = make_engine(url)
        try:
            _prepare_database(engine, config)
            tally = asyncio.run(Walkthrough(config, engine, scenario, boards, out, rounds).play())
            if channels:
                tally.deliveries = _delivery_counts(engine)
        finally:
            engine.dispose()
        served = boards.requests
    _summary(out, tally, time.monotonic() - started, served, folder if keep else None)
    if tally.interrupted:
        sys.exit(130)


def _show_setup(
    out: Printer, database: Path, server: str, interval: timedelta, channels: Sequence[str], *, kept: bool
) -> None:
    from notifier.channels import redact

    out.line("rolewatch demo: the real daemon, sample boards on this machine, a scratch database.", "bold")
    out.heading("Setting up")
    out.fact("database", f"{database}" + ("" if kept else " (deleted at the end; --keep DIR keeps it)"))
    out.fact("boards", f"{server}, serving three sample boards:")
    for board in BOARDS:
        out.fact("", f"  {board.source:<12} {board.type:<11} {board.label}")
    out.fact("subscription", f'{SUBSCRIPTION}: "{QUERY}" — new, changed, closed and reopened roles')
    where = ", ".join(redact(url) for url in channels) or "this terminal only (see --notify)"
    out.fact("alerts to", where)
    out.fact("daemon", f"crawls every board every {format_duration(interval)}, as `rolewatch run` would")


@contextlib.contextmanager
def _workspace(keep: Path | None) -> Iterator[Path]:
    """A temporary directory, or `keep` (made if need be) when it holds no earlier demo."""
    from rolewatch.cli import RuntimeFailure

    if keep is None:
        with tempfile.TemporaryDirectory(prefix="rolewatch-demo-") as temporary:
            yield Path(temporary)
        return
    folder = keep.expanduser().resolve()
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("rolewatch.db", "rolewatch.yaml"):
        if (folder / name).exists():
            raise RuntimeFailure(f"{folder / name} exists; give --keep an empty or new directory")
    yield folder


def _bypass_proxies_for_loopback() -> None:
    """A proxy set in the environment must not be asked for 127.0.0.1 (the crawl child inherits this)."""
    for name in ("no_proxy", "NO_PROXY"):
        hosts = [h.strip() for h in os.environ.get(name, "").split(",") if h.strip()]
        missing = [h for h in ("127.0.0.1", "localhost") if h not in hosts]
        if missing:
            os.environ[name] = ",".join(hosts + missing)


def _prepare_database(engine: Engine, config: Config) -> None:
    """Create the schema and the sources now, and plan every board's first crawl for one moment."""
    from storage.database import upgrade
    from storage.history import sync_sources
    from storage.schedule import save_next_due

    upgrade(engine)
    sync_sources(engine, config.sources)
    first = datetime.now(UTC) + FIRST_CRAWL_IN
    save_next_due(engine, {source.name: first for source in config.sources})


def _delivery_counts(engine: Engine) -> Counter[str]:
    from storage.outbox import list_deliveries

    return Counter(row.status for row in list_deliveries(engine, limit=None))


def _summary(out: Printer, tally: Tally, seconds: float, served: int, kept: Path | None) -> None:
    out.heading("Stopped early (Ctrl-C)" if tally.interrupted else "Summary")
    crawls = ", ".join(f"{n} {verdict}" for verdict, n in tally.crawls.most_common())
    out.fact("time", f"{seconds:.1f}s, {tally.rounds} round{'' if tally.rounds == 1 else 's'}")
    out.fact("crawls", f"{tally.crawls.total()} ({crawls or 'none'}); {served} requests to the sample boards")
    kinds = ("new", "changed", "closed", "reopened")
    out.fact("events", ", ".join(f"{tally.events[kind]} {kind}" for kind in kinds))
    out.fact("alerts", f"{tally.alerts} for {SUBSCRIPTION}, shown above")
    if tally.deliveries:
        sent = tally.deliveries["sent"]
        rest = tally.deliveries.total() - sent
        unsent = f", {rest} not delivered (see the errors above)" if rest else ""
        out.fact("delivered", f"{sent} sent to your channel{unsent}")
    if kept is not None:
        out.fact("kept", f"{kept} — try `rolewatch --config {kept / 'rolewatch.yaml'} events --since 1h`")
    out.heading("Next steps")
    for command, what in (
        ("rolewatch init", "write a commented rolewatch.yaml and create the database"),
        ("(edit it)", "your boards under sources:, the roles you want under subscriptions:"),
        ("rolewatch check", "validate the configuration"),
        ("rolewatch crawl", "crawl once now and print the events"),
        ("rolewatch run", "the daemon you just watched, on your own boards"),
    ):
        out.fact("", f"{command:<17} {what}")
