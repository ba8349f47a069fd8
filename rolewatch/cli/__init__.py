"""The `rolewatch` command line: the group and its options, and every command joined to it here.

Each command group lives in its own module beside this one (`crawl`, `sources`, `postings`,
`subscriptions`, `notify`, `daemon`, `db`, `init`, `check`, `web`; `demo` in `rolewatch.demo`),
over the helpers in `common`.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Sequence

import click

from rolewatch import __version__
from rolewatch.cli.add import add
from rolewatch.cli.check import check
from rolewatch.cli.common import close_engines
from rolewatch.cli.crawl import crawl
from rolewatch.cli.daemon import run
from rolewatch.cli.db import db
from rolewatch.cli.init import init
from rolewatch.cli.notify import deliver, deliveries, notify
from rolewatch.cli.postings import events, postings, show
from rolewatch.cli.sources import sources, status
from rolewatch.cli.subscriptions import subscriptions
from rolewatch.cli.web import web
from rolewatch.cli.worker import worker
from rolewatch.demo import demo


class _WholeSummaries(click.Group):
    """A group whose `--help` shows each command's whole first sentence, wrapped, where click cuts
    it at 45 characters with "..."."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit=SUMMARY_LIMIT)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


#: Longer than any command's first sentence: the help wraps a summary rather than cut it.
SUMMARY_LIMIT = 300


@click.group(cls=_WholeSummaries, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    envvar="ROLEWATCH_CONFIG",
    help="Configuration file (default: ./rolewatch.yaml).",
)
@click.option("-v", "--verbose", is_flag=True, help="Log debugging detail to stderr.")
@click.version_option(__version__, prog_name="rolewatch")
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, verbose: bool) -> None:
    """Watch career boards; keep every posting's history; report new, changed, closed and reopened roles."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = config_file


for command in (
    init,
    check,
    add,
    crawl,
    sources,
    status,
    postings,
    show,
    events,
    db,
    subscriptions,
    notify,
    deliver,
    deliveries,
    run,
    worker,
    demo,
    web,
):
    cli.add_command(command)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point; click exits 2 on usage errors by itself."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="rolewatch")
    finally:
        _leave()


def _leave() -> None:
    """Let the process end without a last walk through everything the command loaded.

    As Python exits it collects reference cycles once more, through every object still alive: for
    a command that loaded the stages (SQLAlchemy's ORM, the notifier), 0.2-0.3 s after its work is
    done, for memory the process returns whole anyway. So what must be released is released here
    (the engines a command left open: their SQLite connections close, and checkpoint, as at any
    exit) and the rest is frozen out of that collection. Only the console script does this: a
    process that lives on (a test run's) keeps its collector whole.
    """
    close_engines()
    gc.freeze()
