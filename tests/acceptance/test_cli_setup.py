"""Setup that teaches: `check` warns about what would silently match nothing; mistakes are named plainly."""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.command_line import BOARD_PATH, rolewatch
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job


def _config(path: Path, server: BoardServer, subscriptions: str) -> None:
    path.write_text(
        f"""
database: sqlite:///{path.parent}/rolewatch.db
defaults:
  politeness: {{delay: 0s, autothrottle: false, retries: 0, request_timeout: 5s}}
sources:
  - {{name: koala, type: greenhouse, board: koala, base_url: "{server.url}"}}
subscriptions:
{subscriptions}
""",
        encoding="utf-8",
    )


def test_check_warns_about_what_would_match_nothing(tmp_path: Path, board_server: BoardServer) -> None:
    board_server.set_json(BOARD_PATH, greenhouse_board([greenhouse_job(1, "Data Scientist Intern")]))
    config = tmp_path / "rolewatch.yaml"
    fine = "  - {name: fine, sources: [koala], locations: [Sydney, AU, Remote, New South Wales]}"
    _config(config, board_server, fine)
    clean = rolewatch(tmp_path, "check")
    assert clean.returncode == 0 and "warning" not in clean.stdout, clean.stdout
    assert "1 source, 1 subscription." in clean.stdout
    assert rolewatch(tmp_path, "crawl").returncode == 0
    company = json.loads(rolewatch(tmp_path, "postings", "--format", "json").stdout)[0]["company"]
    _config(
        config,
        board_server,
        fine + "\n"
        "  - name: odd\n"
        "    sources: [koalla]\n"
        "    locations: [Sydney, Atlantis-on-Sea]\n"
        "    min_salary: {amount: 50000, currency: XYZ}\n"
        f"    companies: ['{company.upper()}', Nobody Incorporated]\n",
    )
    done = rolewatch(tmp_path, "check")
    assert done.returncode == 0, done.stderr
    assert "1 source, 2 subscriptions." in done.stdout
    assert "4 warnings" in done.stdout, done.stdout
    lines = [line.strip() for line in done.stdout.splitlines() if line.startswith("  subscriptions")]
    assert lines == [
        "subscriptions[1] (odd).sources: no source is named 'koalla' (sources: koala)",
        "subscriptions[1] (odd).locations: no gazetteer knows 'Atlantis-on-Sea' (a city, region, country or "
        "Remote)",
        "subscriptions[1] (odd).min_salary.currency: 'XYZ' is not an ISO 4217 code",
        "subscriptions[1] (odd).companies: no source has seen a posting from 'Nobody Incorporated'",
    ], done.stdout


def test_mistakes_are_named_plainly(tmp_path: Path) -> None:
    config = tmp_path / "rolewatch.yaml"
    config.write_text("# nothing yet\n", encoding="utf-8")
    empty = rolewatch(tmp_path, "check")
    assert empty.returncode == 2 and "the file is empty" in empty.stderr
    config.write_text(
        "sources:\n  - {name: a, type: greenhouse, board: b, intervall: 5m}\n"
        "  - {name: a, type: lever, site: c}\n"
        "subscriptions:\n  - {name: grads}\n  - {name: interns}\ndaemon: {grace: 5s, deliver_evry: 1s}\n",
        encoding="utf-8",
    )
    problems = rolewatch(tmp_path, "check").stderr.splitlines()[1:]
    assert [problem.strip() for problem in problems] == [
        "sources[0].intervall: extra inputs are not permitted; did you mean 'interval'?",
        "sources[1].name: duplicate name 'a' (also sources[0])",
        "daemon.deliver_evry: extra inputs are not permitted; did you mean 'deliver_every'?",
    ]
    config.write_text("subscriptions:\n  - {name: grads}\n  - {name: interns}\n", encoding="utf-8")
    for command in (("subscriptions", "test", "x"), ("notify", "test", "x")):
        unknown = rolewatch(tmp_path, *command)
        assert unknown.returncode == 2, unknown
        assert "unknown subscription 'x' (known: grads, interns)" in unknown.stderr, unknown.stderr


def test_help_shows_every_summary_whole() -> None:
    done = rolewatch(Path.cwd(), "--help")
    assert done.returncode == 0
    commands = done.stdout.split("Commands:")[1]
    assert "..." not in commands, commands
    assert "store, print the events, send their alerts." in " ".join(done.stdout.split())


def test_status_piped_keeps_each_source_on_one_line(tmp_path: Path, board_server: BoardServer) -> None:
    _config(tmp_path / "rolewatch.yaml", board_server, "  []")  # the board answers 404: a failed crawl
    assert rolewatch(tmp_path, "crawl").returncode == 1
    done = rolewatch(tmp_path, "status")
    rows = [line for line in done.stdout.splitlines() if "koala" in line]
    assert len(rows) == 1, done.stdout
    assert f"{board_server.url}{BOARD_PATH}" in rows[0], done.stdout


README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_check_examples_are_what_check_prints(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    shown = [block.split("\n```")[0] for block in text.split("```\n$ rolewatch check\n")[1:]]
    assert len(shown) == 2
    configs = (
        "defaults: {interval: often}\nsources:\n  - {name: stripe, type: greenhouse}\n"
        "  - {name: x, type: workdayy}\n  - {name: y, type: lever, site: s, intervl: 5m}\n",
        "sources:\n  - {name: stripe, type: greenhouse, board: stripe}\nsubscriptions:\n"
        "  - {name: grads, sources: [strip], locations: [Sydney, Narnia], "
        "min_salary: {amount: 70000, currency: AUS}}\n",
    )
    for example, config in zip(shown, configs, strict=True):
        (tmp_path / "rolewatch.yaml").write_text(config, encoding="utf-8")
        done = rolewatch(tmp_path, "check")
        assert (done.stderr if done.returncode else done.stdout).rstrip("\n") == example


def test_the_readme_configuration_documents_the_proxy_variables() -> None:
    text = README.read_text(encoding="utf-8")
    configuration = text.split("\n## Configuration\n")[1].split("\n## ")[0]
    assert (
        "`http_proxy`" in configuration and "`https_proxy`" in configuration and "`no_proxy`" in configuration
    )
