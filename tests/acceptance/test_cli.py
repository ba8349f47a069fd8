"""The command line as a user runs it: the real `rolewatch` commands, a real board server, a real SQLite file.

The commands run in this process (`tests/acceptance/command_line.py`); the daemon, which needs a
process of its own, is run as one in `test_daemon.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.acceptance.command_line import BOARD_PATH, rolewatch
from tests.boardserver import BoardServer
from tests.fixtures.boards import greenhouse_board, greenhouse_job, simplify_listing


def write_config(path: Path, server: BoardServer) -> None:
    path.write_text(
        f"""
database: sqlite:///{path.parent}/rolewatch.db
defaults:
  politeness: {{delay: 0s, autothrottle: false, retries: 0, request_timeout: 5s}}
sources:
  - {{name: koala, type: greenhouse, board: koala, base_url: "{server.url}"}}
  - {{name: summer, type: simplify, url: "{server.url}/listings.json", employment_type: intern}}
""",
        encoding="utf-8",
    )


def test_init_writes_a_valid_config_and_creates_the_database(tmp_path: Path) -> None:
    done = rolewatch(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "rolewatch.yaml").exists() and (tmp_path / "rolewatch.db").exists()
    assert rolewatch(tmp_path, "check").returncode == 0
    again = rolewatch(tmp_path, "init")
    assert again.returncode == 1 and "--force" in again.stderr


def test_three_mistakes_are_reported_together_with_exit_status_2(tmp_path: Path) -> None:
    (tmp_path / "rolewatch.yaml").write_text(
        "defaults: {interval: often}\n"
        "sources:\n  - {name: stripe, type: greenhouse}\n  - {name: x, type: workdayy}\n",
        encoding="utf-8",
    )
    done = rolewatch(tmp_path, "check")
    assert done.returncode == 2
    assert "defaults.interval: not a duration: 'often'" in done.stderr
    assert "sources[0].board: field required" in done.stderr
    assert "sources[1].type: unknown source type 'workdayy'" in done.stderr
    assert rolewatch(tmp_path, "crawl").returncode == 2


def two_boards(tmp_path: Path, board_server: BoardServer) -> None:
    """A Greenhouse board `koala` with two roles and a Simplify list `summer` with one, configured."""
    board_server.set_json(
        BOARD_PATH,
        greenhouse_board(
            [greenhouse_job(1, "Data Scientist Intern"), greenhouse_job(2, "ML Engineer, New Grad")]
        ),
    )
    board_server.set_json(
        "/listings.json",
        [simplify_listing("sim-1", "Jane Street", "Quant Research Intern", ["New York, NY"])],
    )
    write_config(tmp_path / "rolewatch.yaml", board_server)


def test_crawl_show_and_list_what_changed(tmp_path: Path, board_server: BoardServer) -> None:
    two_boards(tmp_path, board_server)

    first = rolewatch(tmp_path, "crawl", "--format", "jsonl")
    assert first.returncode == 0, first.stderr
    events = [json.loads(line) for line in first.stdout.splitlines()]
    assert sorted((e["type"], e["source"], e["external_id"]) for e in events) == [
        ("new", "koala", "1"),
        ("new", "koala", "2"),
        ("new", "summer", "sim-1"),
    ]
    assert "koala: complete" in first.stderr

    board_server.set_json(
        BOARD_PATH,
        greenhouse_board(
            [greenhouse_job(1, "Data Scientist Intern (Sydney)"), greenhouse_job(2, "ML Engineer, New Grad")]
        ),
    )
    second = rolewatch(tmp_path, "crawl", "koala")
    assert second.returncode == 0, second.stderr

    listed = rolewatch(tmp_path, "events", "--since", "1h", "--type", "changed", "--format", "jsonl")
    (changed,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert set(changed) >= {"id", "type", "source", "external_id", "title", "company", "url", "at", "changes"}
    assert changed["changes"]["title"] == ["Data Scientist Intern", "Data Scientist Intern (Sydney)"]

    shown = rolewatch(tmp_path, "show", "koala/1")
    assert shown.returncode == 0 and "Data Scientist Intern (Sydney)" in shown.stdout
    assert "title: Data Scientist Intern → Data Scientist Intern (Sydney)" in shown.stdout
    postings = json.loads(rolewatch(tmp_path, "postings", "--open", "--format", "json").stdout)
    assert len(postings) == 3
    status = json.loads(rolewatch(tmp_path, "status", "--format", "json").stdout)
    assert {s["name"]: s["verdict"] for s in status} == {"koala": "complete", "summer": "complete"}
    csv_lines = rolewatch(tmp_path, "postings", "--format", "csv").stdout.splitlines()
    assert csv_lines[0].startswith("id,") and len(csv_lines) == 4
    assert rolewatch(tmp_path, "show", "koala/404").returncode == 1


def test_crawl_prints_the_few_events_and_each_sources_counts(
    tmp_path: Path, board_server: BoardServer
) -> None:
    two_boards(tmp_path, board_server)

    first = rolewatch(tmp_path, "crawl")
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    events = [line.split() for line in lines[1 : lines.index("")]]
    assert sorted((row[1], row[2]) for row in events) == [
        ("new", "koala"),
        ("new", "koala"),
        ("new", "summer"),
    ]
    for title in ("Data Scientist Intern", "ML Engineer, New Grad", "Quant Research Intern"):
        assert title in first.stdout
    summary = {row[0]: row[1:6] for row in (line.split() for line in lines[lines.index("") + 2 : -1])}
    assert summary == {"koala": ["complete", "2", "0", "0", "0"], "summer": ["complete", "1", "0", "0", "0"]}
    assert lines[-1] == "2 sources: 3 new, 0 changed, 0 closed, 0 reopened"

    board_server.set_json(BOARD_PATH, greenhouse_board([greenhouse_job(1, "Data Scientist Intern (Sydney)")]))
    quiet = rolewatch(tmp_path, "crawl", "koala", "--no-events")
    assert quiet.returncode == 0, quiet.stderr
    assert "Sydney" not in quiet.stdout
    assert quiet.stdout.splitlines()[1].split()[:4] == ["koala", "complete", "0", "1"]


def test_a_crawl_with_many_events_prints_a_summary_and_lists_them_when_asked(
    tmp_path: Path, board_server: BoardServer
) -> None:
    from rolewatch.cli.crawl import EVENTS_SHOWN_AT_MOST

    many = EVENTS_SHOWN_AT_MOST + 10
    board_server.set_json(BOARD_PATH, greenhouse_board([greenhouse_job(n, f"Role {n}") for n in range(many)]))
    board_server.set_json("/listings.json", [])
    write_config(tmp_path / "rolewatch.yaml", board_server)

    first = rolewatch(tmp_path, "crawl")
    assert first.returncode == 0, first.stderr
    assert "Role 1" not in first.stdout
    assert first.stdout.splitlines()[1].split()[:3] == ["koala", "complete", str(many)]
    assert f"{many} new" in first.stdout and f"{many} events not listed" in first.stdout

    board_server.set_json(BOARD_PATH, greenhouse_board([greenhouse_job(n, f"Post {n}") for n in range(many)]))
    listed = rolewatch(tmp_path, "crawl", "--events")
    assert listed.returncode == 0, listed.stderr
    rows = [line.split() for line in listed.stdout.splitlines()[1 : many + 1]]
    assert [row[1:3] for row in rows] == [["changed", "koala"]] * many
    assert all(f"Post {n}" in listed.stdout for n in range(many))
    assert f"{many} changed" in listed.stdout and "not listed" not in listed.stdout


def test_sources_test_shows_postings_without_storing(tmp_path: Path, board_server: BoardServer) -> None:
    board_server.set_json(BOARD_PATH, greenhouse_board([greenhouse_job(7, "Data Scientist Intern")]))
    board_server.set_json("/listings.json", [])
    write_config(tmp_path / "rolewatch.yaml", board_server)
    done = rolewatch(tmp_path, "sources", "test", "koala", "--format", "json")
    assert done.returncode == 0, done.stderr
    (posting,) = json.loads(done.stdout)
    assert posting["title"] == "Data Scientist Intern" and posting["locations"] == "Sydney, AU"
    assert not (tmp_path / "rolewatch.db").exists()


def test_a_failed_source_exits_1_and_is_recorded(tmp_path: Path, board_server: BoardServer) -> None:
    board_server.fail(BOARD_PATH, 500, times=10)
    board_server.set_json("/listings.json", [])
    write_config(tmp_path / "rolewatch.yaml", board_server)
    done = rolewatch(tmp_path, "crawl")
    assert done.returncode == 1
    assert "1 of 2 sources failed: koala" in done.stderr
    status = json.loads(rolewatch(tmp_path, "status", "--format", "json").stdout)
    koala = next(s for s in status if s["name"] == "koala")
    assert koala["verdict"] == "failed" and "HTTP 500" in " ".join(koala["errors"])


def test_environment_overrides_the_database(tmp_path: Path) -> None:
    (tmp_path / "rolewatch.yaml").write_text("sources: []\n", encoding="utf-8")
    other = tmp_path / "elsewhere.db"
    done = rolewatch(tmp_path, "db", "upgrade", env={"ROLEWATCH_DATABASE_URL": f"sqlite:///{other}"})
    assert done.returncode == 0, done.stderr
    assert other.exists() and "elsewhere.db" in done.stdout
