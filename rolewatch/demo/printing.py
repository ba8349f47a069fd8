"""Everything the demo says: the setup, each event with its alert, the summary; styled on a terminal only."""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape

from rolewatch.config import format_duration
from rolewatch.demo.scenario import BOARDS, QUERY, SUBSCRIPTION
from rolewatch.domain import plural

if TYPE_CHECKING:
    from notifier.messages import Message
    from rolewatch.domain import Event

#: A changed value longer than this is shortened on the event's line.
CHANGE_CHARS = 70
_EVENT_STYLES = {"new": "green", "changed": "yellow", "closed": "red", "reopened": "cyan"}


@dataclass
class Tally:
    """What happened, for the summary."""

    crawls: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    alerts: int = 0
    deliveries: Counter[str] = field(default_factory=Counter)
    rounds: int = 0
    interrupted: bool = False


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


def show_setup(
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


def show_summary(out: Printer, tally: Tally, seconds: float, served: int, kept: Path | None) -> None:
    out.heading("Stopped early (Ctrl-C)" if tally.interrupted else "Summary")
    crawls = ", ".join(f"{n} {verdict}" for verdict, n in tally.crawls.most_common())
    out.fact("time", f"{seconds:.1f}s, {tally.rounds} round{'' if tally.rounds == 1 else 's'}")
    out.fact(
        "crawls",
        f"{tally.crawls.total()} ({crawls or 'none'}); {plural(served, 'request')} to the sample boards",
    )
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
