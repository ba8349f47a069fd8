"""One demo from start to end: a workspace, the boards served, a database the daemon fills, the rounds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console

from rolewatch.demo.printing import Printer, Tally, show_setup, show_summary
from rolewatch.demo.scenario import Scenario, config_yaml
from rolewatch.demo.server import SampleBoards
from rolewatch.demo.walkthrough import Walkthrough

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from rolewatch.config import Config

#: The first crawl of every board is planned this long after the database is ready: all at one
#: time, so that they share one crawl process every round (overdue sources would be staggered).
FIRST_CRAWL_IN = timedelta(seconds=1.5)


def run_demo(channels: list[str], rounds: int, interval: timedelta, keep: Path | None) -> Tally:
    """Play `rounds` rounds against the sample boards, printing as they go; then the summary."""
    from rolewatch.resolve import parse_config
    from storage.database import make_engine

    started = time.monotonic()
    out = Printer(Console(highlight=False, soft_wrap=True))
    scenario = Scenario.load()
    _bypass_proxies_for_loopback()
    with _workspace(keep) as folder, SampleBoards(scenario) as boards:
        database = folder / "rolewatch.db"
        url = f"sqlite:///{database}"
        config = parse_config(config_yaml(url, boards.url, interval, channels), {}, origin="the demo")
        if keep is not None:  # with the channels, readable by its owner only: a URL may hold a secret
            _write_private(folder / "rolewatch.yaml", config_yaml(url, boards.url, interval, channels))
        boards.show(1)
        show_setup(out, database, boards.url, interval, channels, kept=keep is not None)
        engine = make_engine(url)
        try:
            _prepare_database(engine, config)
            tally = asyncio.run(Walkthrough(config, engine, scenario, boards, out, rounds).play())
            if channels:
                tally.deliveries = _delivery_counts(engine)
        finally:
            engine.dispose()
        served = boards.requests
    show_summary(out, tally, time.monotonic() - started, served, folder if keep else None)
    return tally


def _write_private(path: Path, text: str) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)


@contextlib.contextmanager
def _workspace(keep: Path | None) -> Iterator[Path]:
    """A temporary directory, or `keep` (made if need be) when it holds no earlier demo."""
    from rolewatch.cli.common import RuntimeFailure

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
    from notifier.sync import sync_config
    from storage.database import upgrade
    from storage.schedule import save_next_due

    upgrade(engine)
    sync_config(engine, config)
    first = datetime.now(UTC) + FIRST_CRAWL_IN
    save_next_due(engine, {source.name: first for source in config.sources})


def _delivery_counts(engine: Engine) -> Counter[str]:
    from storage.outbox import list_deliveries

    return Counter(row.status for row in list_deliveries(engine, limit=None))
