"""`rolewatch add URL`: the source a careers or ATS address names, appended to the configuration file.

The address is read by `crawler.recognise`; a page it does not know is fetched once (http(s)
only, a size limit and a time-out) and searched for an embedded board, JobPosting markup or a
feed link. The source is appended as text, so the file's comments and layout stay as they
were, and the whole file is validated before it is written.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import click

from rolewatch.cli.common import RuntimeFailure, handle_errors

if TYPE_CHECKING:
    from crawler.recognise import Recognised

_SOURCES_KEY = re.compile(r"^sources\s*:(.*)$")


@click.command()
@click.argument("url")
@click.option("--name", help="The source's name (default: from the board's token, made unique).")
@click.option("--dry-run", is_flag=True, help="Print the source and change nothing.")
@click.option("--no-test", is_flag=True, help="Do not run `sources test` on the new source.")
@click.pass_context
@handle_errors
def add(ctx: click.Context, url: str, name: str | None, dry_run: bool, no_test: bool) -> None:
    """Add the board a careers or ATS URL names to the configuration, then test it."""
    import yaml

    from crawler.recognise import recognise, source_name
    from rolewatch import config
    from rolewatch.resolve import parse_config

    if urlsplit(url.strip() if "://" in url else f"https://{url.strip()}").scheme.lower() not in (
        "http",
        "https",
    ):
        raise click.UsageError(f"{url!r} is not an http(s) address")
    text, origin = config.read_config_file(ctx.obj)
    current = parse_config(text, os.environ, origin=origin)
    found = recognise(url) or _discover(url)
    taken = {source.name for source in current.sources}
    if name is not None and name in taken:
        raise click.UsageError(f"a source named {name!r} exists already; choose another --name")
    item: dict[str, Any] = {"name": name or source_name(found.token, taken), "type": found.type}
    item.update(found.options)
    block = yaml.safe_dump([item], sort_keys=False, allow_unicode=True, default_flow_style=False, width=4096)
    new_text = append_source(text, block)
    parse_config(new_text, os.environ, origin=origin)  # ConfigError: exit 2, nothing written
    if dry_run:
        click.echo(f"# {found.type} source, from {found.how} (dry run: {origin} unchanged)")
        click.echo(block.rstrip("\n"))
        return
    _write(config.config_path(ctx.obj), new_text)
    click.echo(f"added {found.type} source {item['name']!r} (from {found.how}) to {origin}")
    if not no_test:
        from rolewatch.cli.sources import sources_test

        ctx.invoke(sources_test, name=item["name"], limit=50, fmt="table")


def append_source(text: str, block: str) -> str:
    """`text` with the YAML list item `block` added to the end of its `sources:` list, all else unchanged.

    A file without `sources:` gains the key at its end; `sources: []` (or an empty value)
    becomes a block list. A list written in flow style is not rewritten: ConfigError.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if _SOURCES_KEY.match(line)), None)
    if start is None:
        prefix = text if not text or text.endswith("\n") else text + "\n"
        return f"{prefix}{'' if not text.strip() else chr(10)}sources:\n{_indent(block, 2)}"
    value = _SOURCES_KEY.match(lines[start]).group(1).split(" #")[0].strip()  # type: ignore[union-attr]
    if value in ("[]", "null", "~"):
        comment = lines[start].split(" #", 1)[1] if " #" in lines[start] else ""
        lines[start] = f"sources:{'  #' + comment if comment else chr(10)}"
        value = ""
    if value:
        from rolewatch.config import ConfigError

        raise ConfigError([f"`sources` is written in flow style ({value[:40]}…): add the source by hand"])
    last, indent = start, None
    for index in range(start + 1, len(lines)):
        line = lines[index]
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line[0] not in " \t-":
            break  # the next top-level key
        last = index
        if indent is None and stripped.startswith("-"):
            indent = len(line) - len(line.lstrip())
    if not lines[last].endswith("\n"):
        lines[last] += "\n"
    lines.insert(last + 1, _indent(block, 2 if indent is None else indent))
    return "".join(lines)


def _indent(block: str, width: int) -> str:
    return "".join(" " * width + line if line.strip() else line for line in block.splitlines(keepends=True))


def _write(path: Path, text: str) -> None:
    """Replace the file at once (a temporary file beside it, then rename), keeping its mode."""
    mode = path.stat().st_mode & 0o777
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _discover(url: str) -> Recognised:
    """Fetch a page no address shape names and look in it; RuntimeFailure when nothing is there."""
    from crawler.recognise import discover
    from rolewatch.cli.page import fetch_page

    page, final_url = fetch_page(url)
    found = discover(page, final_url)
    if found is None:
        raise RuntimeFailure(
            f"{url}: no board found — the address is no known ATS or careers site, and the page has no "
            "embedded board, no JobPosting markup and no RSS/Atom feed link; add the source by hand "
            "(see the README's source types, e.g. `html` or `json`)"
        )
    return found
