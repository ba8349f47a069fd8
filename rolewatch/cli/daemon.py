"""`rolewatch run`: the daemon, until SIGTERM."""

from __future__ import annotations

import logging
import os
import sys
import threading

import click

from rolewatch.cli.common import RuntimeFailure, handle_errors, parse_address

#: How long threads still busy when the daemon has stopped (a stuck send, say) may take to end.
LINGER_S = 2.0


@click.command("run")
@click.option(
    "--http",
    "http",
    metavar="HOST:PORT",
    help="Serve the web dashboard, /healthz and /metrics on this address (e.g. 127.0.0.1:8787);"
    " default: daemon.http.",
)
@click.option(
    "--log-format",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Log lines for people, or JSON lines for a log collector.",
)
@click.pass_context
def run(ctx: click.Context, http: str | None, log_format: str) -> None:
    """The daemon: schedule crawls, deliver alerts and tidy the database, until SIGTERM.

    One instance per database schedules; another started on the same database stands by and
    takes over when the first stops. SIGHUP reloads the configuration.
    """
    from scheduler.memory import cap_malloc_arenas

    cap_malloc_arenas()  # before any thread of ours touches the heap, or glibc has fixed its limit
    address = parse_address(http) if http else None
    handle_errors(_run)(ctx, address, log_format)


def _run(ctx: click.Context, address: tuple[str, int] | None, log_format: str) -> None:
    import asyncio

    from rolewatch.resolve import load_config
    from rolewatch.web import create_app
    from scheduler.daemon import Daemon, DaemonError
    from storage.database import make_engine

    _configure_logging(log_format, verbose=bool(ctx.find_root().params.get("verbose")))
    config = load_config(ctx.obj)
    if address is None and config.daemon.http:
        address = parse_address(config.daemon.http)
    engine = make_engine(config.database)
    daemon = Daemon(
        config, engine, reload_config=lambda: load_config(ctx.obj), http=address, web_app=create_app
    )
    try:
        asyncio.run(daemon.run())
    except DaemonError as error:
        raise RuntimeFailure(str(error)) from None
    finally:
        engine.dispose()
    _exit_despite_stuck_threads()


def _configure_logging(fmt: str, verbose: bool) -> None:
    """The daemon logs at INFO (each crawl, each delivery round); library chatter only with -v."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if h.get_name() != "rolewatch"]:
        root.removeHandler(handler)
    level = logging.DEBUG if verbose else logging.INFO
    try:
        from rolewatch.logs import configure_logging
    except ImportError:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True)
    else:
        configure_logging(fmt, verbose, level=level)
    if not verbose:
        for chatty in ("apscheduler", "alembic"):
            logging.getLogger(chatty).setLevel(logging.WARNING)


def _exit_despite_stuck_threads() -> None:
    """Exit 0 now even if a worker thread is stuck past the grace period, rather than wait on it forever."""
    # Only the daemon's own workers (named "rolewatch…") can be stuck in our work; a library's idle
    # pool (apprise keeps one) ends with the interpreter and must not delay the exit.
    stuck = [t for t in threading.enumerate() if t.name.startswith("rolewatch") and not t.daemon]
    for thread in stuck:
        thread.join(timeout=LINGER_S / max(1, len(stuck)))
    stuck = [t for t in stuck if t.is_alive()]
    if stuck:
        logging.getLogger("rolewatch.scheduler").warning(
            "exiting with %d worker threads still busy", len(stuck)
        )
        logging.shutdown()
        sys.stderr.flush()
        os._exit(0)
