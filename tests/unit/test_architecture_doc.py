"""docs/architecture.md names only what exists: its files, its modules, its code names, its layer rule."""

from __future__ import annotations

import ast
import importlib
import re
import subprocess
import sys
from functools import cache

import pytest

from crawler.registry import ENTRY_POINT_GROUP
from tests.architecture import ROOT, architecture, recipe_blocks

PACKAGES = ("crawler", "storage", "notifier", "scheduler", "rolewatch", "tests")
#: A file or folder of the project as the page writes it (`crawler/spiders/<type>.py` is a pattern).
PATH = re.compile(rf"\b(?:{'|'.join(PACKAGES)}|docs)/[\w./<>-]*")
#: A dotted module path, optionally ending in the names of things inside the module.
DOTTED = re.compile(rf"(?:{'|'.join(PACKAGES)})(?:\.\w+)+")
#: A name in code style: snake_case with an underscore, or CamelCase.
CODE_NAME = re.compile(r"\b(?:[a-z]\w*_\w+|_?[A-Z][a-z]+[A-Z]\w*)\b")
#: What the recipes create, where the page tells the reader to put it (the blocks are checked apart).
CREATED = {
    "source-type": "crawler/types/careerapi.py",
    "spider": "crawler/spiders/careerapi.py",
    "fixture": "tests/fixtures/careerapi.py",
    "parse-test": "tests/unit/test_parse_careerapi.py",
    "crawl-test": "tests/integration/test_crawl_careerapi.py",
    "command": "rolewatch/cli/channels.py",
}
CREATED_NAMES = {"rolewatch.cli.channels", "rolewatch_careerapi"}


def prose_and_diagram() -> str:
    """The page without its recipe blocks (code the recipes create, not code that exists)."""
    return re.sub(r"<!-- recipe: [\w-]+ -->\n```.*?^```", "", architecture(), flags=re.S | re.M)


def cited() -> list[str]:
    """Backticked text in the prose, and the whole diagram (it names files without backticks)."""
    text = prose_and_diagram()
    diagram = re.search(r"```text\n(.*?)^```", text, re.S | re.M)
    assert diagram is not None, "the page has its diagram in a ```text block"
    return [*re.findall(r"`([^`\n]+)`", text.replace(diagram.group(0), "")), diagram.group(1)]


@cache
def source_words() -> frozenset[str]:
    words: set[str] = set()
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            words.update(re.findall(r"\w+", path.read_text(encoding="utf-8")))
    return frozenset(words)


def resolves(dotted: str) -> bool:
    """A module, or a module and the names inside it (`crawler.workers.CrawlWorker.reusable`)."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if not hasattr(target, name):
                return False
            target = getattr(target, name)
        return True
    return False


@pytest.mark.parametrize("path", sorted({p.rstrip(".,;:)") for text in cited() for p in PATH.findall(text)}))
def test_every_file_the_page_names_exists(path: str) -> None:
    if "<" in path:  # a pattern: its folder must exist
        path = path[: path.rfind("/", 0, path.index("<")) + 1]
    assert (ROOT / path).exists(), f"docs/architecture.md names {path}, which does not exist"


@pytest.mark.parametrize(
    "dotted",
    sorted({d for text in cited() for d in DOTTED.findall(text)} - {ENTRY_POINT_GROUP, *CREATED_NAMES}),
)
def test_every_module_the_page_names_imports(dotted: str) -> None:
    assert resolves(dotted), f"docs/architecture.md names {dotted}, which cannot be imported"


@pytest.mark.parametrize(
    "name", sorted({n for text in cited() for n in CODE_NAME.findall(PATH.sub("", text))} - CREATED_NAMES)
)
def test_every_code_name_the_page_uses_is_in_the_code(name: str) -> None:
    assert name in source_words(), f"docs/architecture.md uses {name}, which no module mentions"


def test_the_entry_point_group_is_the_registrys() -> None:
    assert f"`{ENTRY_POINT_GROUP}`" in architecture()
    assert f'"{ENTRY_POINT_GROUP}"' in recipe_blocks()["entry-point"]


def test_the_layer_rule_is_the_one_the_import_test_holds() -> None:
    tree = ast.parse((ROOT / "tests" / "unit" / "test_layers.py").read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree) or ""
    rule = docstring[
        docstring.index("- the ground floor") : docstring.index("(a cycle).") + len("(a cycle).")
    ]

    def words(text: str) -> str:
        return " ".join(text.split())

    assert words(rule) in words(architecture())


@pytest.mark.parametrize("name", sorted(CREATED))
def test_the_recipe_code_passes_the_projects_lint_where_it_goes(name: str) -> None:
    """Put where the page says, each example must be code the project would accept as it is.

    Ruff tells our imports from others' by the files that exist, and these do not exist yet.
    """
    ours = f"lint.isort.known-first-party = {list(PACKAGES)!r}".replace("'", '"')
    for check in (["check", "--config", ours], ["format", "--check"]):
        done = subprocess.run(
            [sys.executable, "-m", "ruff", *check, "--stdin-filename", CREATED[name], "-"],
            input=recipe_blocks()[name],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stdout + done.stderr
