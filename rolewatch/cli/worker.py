"""`rolewatch worker`: run crawl and delivery jobs from the queue (`engine: procrastinate`), until SIGTERM."""

from __future__ import annotations

import click

from rolewatch.cli.common import handle_errors, parse_address
from rolewatch.cli.daemon import _configure_logging, _exit_despite_stuck_threads

QUEUE_NAMES = ("crawl", "deliver")


def _queues(_ctx: click.Context, _param: click.Parameter, value: str) -> list[str]:
    queues = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in queues if name not in QUEUE_NAMES]
    if unknown or not queues:
        raise click.BadParameter(f"choose from {', '.join(QUEUE_NAMES)}, comma-separated; got {value!r}")
    return queues


@click.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="Jobs run at once, each crawl in its own warm crawl process.",
)
@click.option(
    "--queues",
    default=",".join(QUEUE_NAMES),
    show_default=True,
    callback=_queues,
    help="The queues to take jobs from: crawl, deliver, or both.",
)
@click.option("--http", "http", metavar="HOST:PORT", help="Serve /healthz and /metrics on this address.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default="text", show_default=True, help="Log format."
)
@click.pass_context
def worker(
    ctx: click.Context, concurrency: int, queues: list[str], http: str | None, log_format: str
) -> None:
    """Run crawl and delivery jobs (`engine: procrastinate`) on this machine, until SIGTERM.

    Start as many as you like, on as many machines, against the one PostgreSQL database; `rolewatch
    run` schedules. SIGTERM lets running jobs finish within `daemon.grace`; SIGHUP re-reads the
    configuration for the jobs that start after it.
    """
    from scheduler.memory import cap_malloc_arenas

    cap_malloc_arenas()
    address = parse_address(http) if http else None
    handle_errors(_work)(ctx, concurrency, queues, address, log_format)


def _work(
    ctx: click.Context, concurrency: int, queues: list[str], address: tuple[str, int] | None, log_format: str
) -> None:
    import asyncio

    from rolewatch.config import ConfigError
    from rolewatch.resolve import load_config
    from scheduler.cluster.worker import WorkerRole
    from storage.database import make_engine

    _configure_logging(log_format, verbose=bool(ctx.find_root().params.get("verbose")))
    config = load_config(ctx.obj)
    if config.engine != "procrastinate":
        raise ConfigError(["engine: `rolewatch worker` needs `engine: procrastinate` (see Scaling out)"])
    engine = make_engine(config.database)
    role = WorkerRole(
        config,
        engine,
        reload_config=lambda: load_config(ctx.obj),
        concurrency=concurrency,
        queues=queues,
        http=address,
    )
    try:
        asyncio.run(role.run())
    finally:
        engine.dispose()
    _exit_despite_stuck_threads()
