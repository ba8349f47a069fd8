"""SIGHUP, shared by the daemon and the cluster's worker: read the configuration again, and keep
the running one (saying why) when the new file is invalid or names another database."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor

from rolewatch.config import Config, ConfigError
from scheduler.source_jobs import in_thread


async def serve_reloads(
    asked: asyncio.Event, reload_once: Callable[[], Awaitable[None]], log: logging.Logger
) -> None:
    """Apply each request in turn, for as long as the process runs; one that fails is logged and
    the next is still served (a reload must never end the process)."""
    while True:
        await asked.wait()
        asked.clear()
        log.info("SIGHUP: reloading the configuration")
        try:
            await reload_once()
        except Exception:
            log.exception("could not apply the reloaded configuration")


async def read_again(
    executor: Executor, read: Callable[[], Config], running: Config, log: logging.Logger, role: str
) -> Config | None:
    """The configuration read afresh, on `running`'s database; None, each problem logged, if invalid.

    The database is the one the process started with: moving to another takes a restart, so a new
    one is logged and ignored rather than half applied.
    """
    try:
        config = await in_thread(executor, read)
    except ConfigError as error:
        problems = "".join(f"\n  {problem}" for problem in error.problems)
        log.error("the new configuration is invalid; keeping the running one:%s", problems)
        return None
    if config.database != running.database:
        log.warning("a new database takes a restart; still using the one the %s started with", role)
        config = config.model_copy(update={"database": running.database})
    return config
