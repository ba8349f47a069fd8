"""What a fresh `rolewatch` process imports before it does anything: a command from cron pays for
every module the command line loads, so the heavy ones wait until a command needs them.

Each check runs in a fresh interpreter (this test process has imported everything already).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: Libraries and modules a command line that only parses its arguments has no use for.
HEAVY = (
    "scrapy",
    "twisted",
    "sqlalchemy",
    "alembic",
    "pydantic",
    "apprise",
    "dateparser",
    "rich",
    "yaml",
    "urllib.request",
    "crawler.normalize.locations",
    "rolewatch.config",
    "storage",
    "notifier",
    "scheduler",
)


def imported_after(code: str) -> set[str]:
    """The modules loaded in a fresh interpreter once `code` has run."""
    probe = f"{code}\nimport json, sys\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    return set(json.loads(done.stdout.splitlines()[-1]))


def loaded(modules: set[str], name: str) -> bool:
    return name in modules or any(module.startswith(name + ".") for module in modules)


def test_the_command_line_and_its_version_import_nothing_heavy() -> None:
    modules = imported_after(
        "import contextlib, io\n"
        "from rolewatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        "    main(['--version'])"
    )
    assert "rolewatch.cli.crawl" in modules  # every command is joined to the group...
    assert [name for name in HEAVY if loaded(modules, name)] == []  # ...and none loaded what it uses


def test_one_source_type_is_looked_up_without_importing_the_other_types_or_any_spider() -> None:
    modules = imported_after("from crawler.registry import options_model\noptions_model('greenhouse')")
    types = {name for name in modules if name.startswith("crawler.types.") and "._" not in name}
    spiders = {name for name in modules if name.startswith("crawler.spiders.") and "._" not in name}
    assert types == {"crawler.types.greenhouse"}
    assert spiders == set()
    assert not loaded(modules, "scrapy") and not loaded(modules, "twisted")


def test_every_type_is_listed_without_scrapy_and_a_spider_is_imported_when_asked_for() -> None:
    listed = imported_after("from crawler.registry import source_types\nlist(source_types())")
    assert not loaded(listed, "scrapy") and not loaded(listed, "crawler.spider")
    asked = imported_after("from crawler.registry import source_types\nsource_types()['greenhouse'].spider")
    spiders = {name for name in asked if name.startswith("crawler.spiders.") and "._" not in name}
    assert spiders == {"crawler.spiders.greenhouse"}


def test_check_of_a_file_without_subscriptions_imports_neither_scrapy_nor_sqlalchemy(tmp_path: Path) -> None:
    """`rolewatch check` reads the options without the spiders, a SQLite URL without SQLAlchemy."""
    config = tmp_path / "rolewatch.yaml"
    sources = "".join(
        f"  - {{name: s{i}, type: {kind}, {key}: acme}}\n"
        for i, (kind, key) in enumerate([("greenhouse", "board"), ("lever", "site"), ("workable", "account")])
    )
    config.write_text(f"database: sqlite:///{tmp_path}/rolewatch.db\nsources:\n{sources}", encoding="utf-8")
    modules = imported_after(
        "import contextlib, io\n"
        "from rolewatch.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main(['--config', {str(config)!r}, 'check'])"
    )
    assert "crawler.types.lever" in modules  # the file was read and its types resolved...
    heavy = ("scrapy", "twisted", "sqlalchemy", "crawler.spider")
    assert [name for name in heavy if loaded(modules, name)] == []


def test_a_crawl_worker_starts_without_the_yaml_parser_or_the_other_stages() -> None:
    """The worker is handed its sources resolved: it loads Scrapy and the configuration's models,
    not the YAML parser that reads a file, nor storage, the notifier or the scheduler."""
    modules = imported_after(
        "import crawler.child as child\nchild._load_http_handler()\nchild._load_crawl_machinery()"
    )
    assert loaded(modules, "scrapy") and "rolewatch.config" in modules  # it did start...
    unwanted = ("yaml", "rolewatch.safe_yaml", "sqlalchemy", "storage", "notifier", "scheduler", "rich")
    assert [name for name in unwanted if loaded(modules, name)] == []  # ...without these


def test_a_crawl_worker_starts_up_without_collecting_garbage_and_collects_once_started() -> None:
    """Start-up makes no cycles, so a collection then is work for nothing (a full one among
    them); the collector runs again once the worker is up, with its start-up frozen out of sight."""
    probe = (
        "import gc, io, json, sys\n"
        "import crawler.child as child\n"
        "before = [generation['collections'] for generation in gc.get_stats()]\n"
        "child.start_up([], io.BytesIO())\n"
        "after = [generation['collections'] for generation in gc.get_stats()]\n"
        "print(json.dumps([before, after, gc.isenabled(), gc.get_freeze_count(), 'scrapy' in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    before, after, enabled, frozen, started = json.loads(done.stdout.splitlines()[-1])
    assert started  # it did load Scrapy...
    assert after == before  # ...without a single collection
    assert enabled and frozen > 50_000  # and collects from now on, never re-scanning start-up's objects
