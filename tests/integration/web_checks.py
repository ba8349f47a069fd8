"""Checks shared by the web tests: what an HTML page may contain, and the CLI's own JSON for comparison."""

from __future__ import annotations

import gc
import json
import warnings
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy.engine import Engine

from rolewatch.cli import cli
from tests.integration.web_seed import CONFIG

LINK_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href")


class MarkupAudit(HTMLParser):
    """Every tag and attribute of a page, to prove board content never became markup."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag in ("script", "iframe", "object", "embed", "img", "base"):
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"{name} attribute on <{tag}>")
            if name == "style":
                self.problems.append(f"inline style on <{tag}>")
            if name in LINK_ATTRIBUTES and value is not None and not _link_ok(value):
                self.problems.append(f"{name}={value!r} on <{tag}>")


def _link_ok(value: str) -> bool:
    return value.startswith(("/", "http://", "https://", "#", "?")) or value == ""


def audit(html: str) -> list[str]:
    parser = MarkupAudit()
    parser.feed(html)
    parser.close()
    return parser.problems


def cli_json(tmp_path: Path, engine: Engine, *args: str) -> Any:
    """Run `rolewatch --config … ARGS --format json` in process and parse what it printed."""
    path = tmp_path / "rolewatch.yaml"
    url = engine.url.render_as_string(hide_password=False)
    path.write_text(f"database: '{url}'\n{CONFIG}", encoding="utf-8")
    with warnings.catch_warnings():
        # The CLI leaves its engine to the garbage collector (a process exits after one command);
        # collected here, its pooled PostgreSQL connections must not warn in some later test.
        warnings.simplefilter("ignore", ResourceWarning)
        result = CliRunner().invoke(cli, ["--config", str(path), *args, "--format", "json"])
        gc.collect()
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)
