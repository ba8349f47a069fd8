"""The recipes of docs/architecture.md, followed step by step with the code exactly as the page shows it.

Each test writes the page's blocks where the recipe puts them (in a temporary directory joined to
the real package or path), and checks the outcome a developer following the recipe would see.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import sys
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from sqlalchemy.engine import Engine

import crawler.spiders
import crawler.types
import tests.fixtures
from crawler.registry import ENTRY_POINT_GROUP, source_types
from crawler.workers import CrawlWorkers
from notifier.outbox import deliver_due
from rolewatch.cli import cli
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from tests.architecture import ROOT, recipe
from tests.boardserver import BoardServer, json_reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.receivers import Webhook

PLUGIN = "rolewatch_careerapi"
#: Modules the recipes add; each test leaves none of them behind.
ADDED_MODULES = (
    "crawler.types.careerapi",
    "crawler.spiders.careerapi",
    "tests.fixtures.careerapi",
    PLUGIN,
    f"{PLUGIN}.spider",
    "rolewatch.cli.channels",
)


def load(path: Path, name: str) -> ModuleType:
    """Import the file at `path` as module `name`, as Python would once the file is in its place."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_tests_of(module: ModuleType, **fixtures: Any) -> list[str]:
    """Call every `test_*` function of `module` with the fixtures it names; the names that ran."""
    ran = []
    for name, test in vars(module).items():
        if name.startswith("test_") and callable(test):
            wanted = test.__code__.co_varnames[: test.__code__.co_argcount]
            test(**{argument: fixtures[argument] for argument in wanted})
            ran.append(name)
    return ran


def rolewatch(cwd: Path, *args: str) -> Any:
    """`rolewatch ARGS` in process, in `cwd`, with none of the test run's ROLEWATCH_* variables."""
    cleared: dict[str, str | None] = {name: None for name in os.environ if name.startswith("ROLEWATCH_")}
    with contextlib.chdir(cwd):
        return CliRunner().invoke(cli, list(args), env=cleared)


@pytest.fixture
def registry() -> Iterator[None]:
    """The registry read afresh (it is cached for the process), and nothing a recipe added left behind."""
    source_types.cache_clear()
    yield
    source_types.cache_clear()
    for name in ADDED_MODULES:
        sys.modules.pop(name, None)


@pytest.fixture
def careerapi_fixture(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None) -> None:
    """Recipe 1, step 2: `tests/fixtures/careerapi.py`, in a folder joined to `tests.fixtures`."""
    folder = tmp_path / "tests" / "fixtures"
    write(folder / "careerapi.py", recipe("fixture"))
    monkeypatch.setattr(tests.fixtures, "__path__", [*tests.fixtures.__path__, str(folder)])


@pytest.fixture
def installed_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, registry: None) -> Path:
    """The source type as a third-party package, installed as pip would: the module and a dist-info
    whose entry points are the page's `pyproject.toml` table, on the path of this process and of
    every crawl worker started from now on."""
    site = tmp_path / "site-packages"
    # The page's two modules as a package of one's own, named as the page says.
    declaration = recipe("source-type").replace("crawler.spiders.careerapi:", f"{PLUGIN}.spider:")
    write(site / PLUGIN / "__init__.py", declaration)
    write(site / PLUGIN / "spider.py", recipe("spider").replace("crawler.types.careerapi", PLUGIN))
    entry_points = tomllib.loads(recipe("entry-point"))["project"]["entry-points"]
    dist_info = site / f"{PLUGIN}-0.1.dist-info"
    write(dist_info / "METADATA", f"Metadata-Version: 2.1\nName: {PLUGIN}\nVersion: 0.1\n")
    write(
        dist_info / "entry_points.txt",
        "".join(
            f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in entries.items())
            for group, entries in entry_points.items()
        ),
    )
    monkeypatch.syspath_prepend(str(site))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    return site


# ---------------------------------------------------------------------- recipe 1: add a source type


def test_a_built_in_source_type_is_a_declaration_and_a_spider_found_by_the_registry_and_its_parse_tests_pass(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, careerapi_fixture: None
) -> None:
    declarations, spiders = tmp_path / "crawler" / "types", tmp_path / "crawler" / "spiders"
    write(declarations / "careerapi.py", recipe("source-type"))
    write(spiders / "careerapi.py", recipe("spider"))
    monkeypatch.setattr(crawler.types, "__path__", [*crawler.types.__path__, str(declarations)])
    monkeypatch.setattr(crawler.spiders, "__path__", [*crawler.spiders.__path__, str(spiders)])

    kind = source_types()["careerapi"]
    assert "crawler.spiders.careerapi" not in sys.modules  # the options came without the spider
    assert kind.spider.__module__ == "crawler.spiders.careerapi"
    assert all(field.description for field in kind.options.model_fields.values())
    assert [s.type for s in parse_config(yaml.safe_dump({"sources": [dict(kind.example)]})).sources] == [
        "careerapi"
    ]
    with pytest.raises(ConfigError) as refused:
        parse_config("sources: [{name: acme, type: careerapi, compnay: acme}]")
    assert "sources[0].company: field required" in refused.value.problems

    parse_tests = load(
        write(tmp_path / "test_parse_careerapi.py", recipe("parse-test")), "test_parse_careerapi"
    )
    assert len(run_tests_of(parse_tests)) == 3


def test_a_third_party_source_type_is_found_through_its_entry_point(
    tmp_path: Path, installed_plugin: Path
) -> None:
    from importlib.metadata import entry_points

    assert [e.value for e in entry_points(group=ENTRY_POINT_GROUP)] == [f"{PLUGIN}:SOURCE_TYPE"]
    assert source_types()["careerapi"].spider.__module__ == f"{PLUGIN}.spider"
    assert "greenhouse" in source_types()  # the built-ins are all still there

    write(tmp_path / "rolewatch.yaml", "sources: [{name: acme, type: careerapi, company: acme}]\n")
    checked = rolewatch(tmp_path, "check")
    assert checked.exit_code == 0, checked.output
    assert checked.output.startswith("rolewatch.yaml: valid")

    write(tmp_path / "rolewatch.yaml", "sources: [{name: acme, type: careerapi}]\n")
    refused = rolewatch(tmp_path, "check")
    assert refused.exit_code == 2 and "sources[0].company: field required" in refused.output


@pytest.mark.slow  # a crawl worker of its own: the session's warm ones started before the plugin was there
def test_a_third_party_source_type_crawls_a_board_in_a_crawl_worker(
    board_server: BoardServer, installed_plugin: Path, careerapi_fixture: None, tmp_path: Path
) -> None:
    crawl_tests = load(
        write(tmp_path / "test_crawl_careerapi.py", recipe("crawl-test")), "test_crawl_careerapi"
    )
    workers = CrawlWorkers()
    try:
        assert run_tests_of(crawl_tests, board_server=board_server, crawl_workers=workers) == [
            "test_a_company_board_is_read_whole"
        ]
    finally:
        workers.close()


# ----------------------------------------------------------------------- recipe 2: add a CLI command


@pytest.fixture
def joined(registry: None) -> Iterator[Callable[[Any], None]]:
    """`cli.add_command`, as the tuple in rolewatch/cli/__init__.py does, undone afterwards."""
    added: list[str] = []

    def join(command: Any) -> None:
        cli.add_command(command)
        added.append(command.name)

    yield join
    for name in added:
        cli.commands.pop(name, None)


def test_a_command_module_joined_to_the_group_runs_with_the_shared_helpers(
    tmp_path: Path, joined: Callable[[Any], None]
) -> None:
    assert "for command in (" in (ROOT / "rolewatch" / "cli" / "__init__.py").read_text(encoding="utf-8")
    module = load(write(tmp_path / "channels.py", recipe("command")), "rolewatch.cli.channels")
    joined(module.channels)
    write(
        tmp_path / "rolewatch.yaml",
        yaml.safe_dump(
            {
                "subscriptions": [
                    {"name": "interns", "query": "intern", "notify": ["mailto://me:app-password@gmail.com"]},
                    {"name": "grads", "query": "graduate", "notify": ["mailto://me:app-password@gmail.com"]},
                ],
                "operators": {"notify": ["tgram://123456789:AAHsecretsecret/987654"]},
            }
        ),
    )

    listed = rolewatch(tmp_path, "channels", "--format", "json")

    assert listed.exit_code == 0, listed.output
    assert json.loads(listed.output) == [  # as apprise spells them, and masked as everywhere else
        {"channel": "mailtos://me:****@gmail.com/", "alerts": "interns, grads"},
        {"channel": "tgram://****/987654/", "alerts": "operators"},
    ]
    assert "app-password" not in listed.output and "AAHsecret" not in listed.output
    write(tmp_path / "rolewatch.yaml", "subscriptions: [{name: interns, notify: ['nope://x']}]\n")
    assert rolewatch(tmp_path, "channels").exit_code == 2
    assert recipe("command-row").startswith("| `rolewatch channels")  # what test_docs looks for


# ------------------------------------------------------------- recipe 3: change what an alert looks like


def test_a_user_template_is_what_the_webhook_receives(
    engine: Engine,
    board_server: BoardServer,
    webhook: Webhook,
    crawl_workers: CrawlWorkers,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    delivery = yaml.safe_load(recipe("templates-config"))["delivery"]
    write(tmp_path / delivery["templates"] / "alert.txt.j2", recipe("alert-template"))
    board_server.route(
        "/v1/boards/koala/jobs",
        lambda request: json_reply(greenhouse_board([greenhouse_job(101, "Data Scientist Intern")])),
    )
    config = parse_config(
        yaml.safe_dump(
            {
                "defaults": {"politeness": {"delay": "0s", "autothrottle": False, "retries": 0}},
                "sources": [
                    {"name": "koala", "type": "greenhouse", "board": "koala", "base_url": board_server.url}
                ],
                "subscriptions": [{"name": "interns", "query": "intern", "notify": [webhook.url]}],
                "delivery": {**delivery, "send_timeout": "5s"},
            }
        )
    )

    crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert deliver_due(engine, config).sent == 1

    (request,) = webhook.wait_for(1)
    assert request.json["message"].splitlines() == [
        "New · Data Scientist Intern at Koala Analytics",
        "Pay: AUD 78,000–82,000 / year",
        "https://job-boards.greenhouse.io/koala/jobs/101",
    ]
