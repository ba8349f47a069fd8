"""`rolewatch init`: a commented rolewatch.yaml and the database, both private to their owner."""

from __future__ import annotations

import os
import tempfile
from contextlib import suppress
from pathlib import Path

import click

from rolewatch.cli.common import RuntimeFailure, handle_errors


@click.command()
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@click.option(
    "--database", default="sqlite:///rolewatch.db", show_default=True, help="Database URL to write."
)
@click.pass_context
@handle_errors
def init(ctx: click.Context, force: bool, database: str) -> None:
    """Write a commented rolewatch.yaml and create the database.

    Both are readable by their owner only (the URL may hold a password), and a failed init leaves
    neither behind: the database is created first, the file written last.
    """
    from rolewatch.config import config_path
    from rolewatch.example import example_config
    from rolewatch.resolve import parse_config
    from storage.database import make_engine, upgrade

    path = config_path(ctx.obj)
    if path.exists() and not force:
        raise RuntimeFailure(f"{path} exists; use --force to overwrite it")
    text = example_config(database)
    config = parse_config(text, os.environ, origin=str(path))
    created = _create_private_sqlite(config.database)
    engine = make_engine(config.database)
    try:
        upgrade(engine)
        _write_private(path, text)
    except BaseException:
        engine.dispose()
        _remove_created(created)
        raise
    engine.dispose()
    click.echo(
        f"Wrote {path} ({len(config.sources)} example sources) and created "
        f"{engine.url.render_as_string(hide_password=True)}."
    )
    click.echo("Edit the sources, then run `rolewatch check` and `rolewatch crawl`.")


def _create_private_sqlite(database: str) -> list[Path]:
    """Create a new SQLite file empty with mode 0600 before SQLAlchemy opens it; what was created.

    SQLite gives its `-wal` and `-shm` files the database file's own mode, so they follow. The
    directories made on the way are listed too (parents first), so a failed init can remove them.
    """
    from storage.database import database_url

    url = database_url(database)
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:" or name.startswith("file:"):
        return []
    path = Path(name)
    created = [parent for parent in reversed(path.parents) if not parent.exists()]
    try:
        for directory in created:
            directory.mkdir()
        if path.exists():
            return created
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except OSError as error:
        _remove_created(created)
        raise RuntimeFailure(f"cannot create the database file {path}: {error.strerror}") from None
    return [*created, path]


def _remove_created(created: list[Path]) -> None:
    """Remove what init created, the SQLite companions of a created database file with it."""
    for path in reversed(created):
        if path.is_dir():
            with suppress(OSError):
                path.rmdir()
            continue
        for companion in ("", "-wal", "-shm", "-journal"):
            with suppress(FileNotFoundError):
                path.with_name(path.name + companion).unlink()


def _write_private(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, all at once: a temporary file beside it, then renamed."""
    target = path.resolve()  # through a symlink, as writing to it would
    try:
        descriptor, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as error:
        raise RuntimeFailure(f"cannot write {path}: {error.strerror}") from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
