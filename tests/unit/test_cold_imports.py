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


def test_one_source_type_is_looked_up_without_importing_the_other_spiders() -> None:
    modules = imported_after("from crawler.registry import options_model\noptions_model('greenhouse')")
    spiders = {name for name in modules if name.startswith("crawler.spiders.") and "._" not in name}
    assert spiders == {"crawler.spiders.greenhouse"}
