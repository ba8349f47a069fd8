"""How the console script ends: the engines a command left open are closed, so a SQLite database is
left checkpointed (no `-wal` beside it), as when the interpreter's last collection closed them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def console_script(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    code = f"from rolewatch.cli import main\nmain({list(args)!r})"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_commands_that_leave_their_engine_open_still_leave_the_database_whole(tmp_path: Path) -> None:
    sources = "sources: [{name: acme, type: greenhouse, board: acme}]\n"
    (tmp_path / "rolewatch.yaml").write_text(f"database: sqlite:///{tmp_path}/rolewatch.db\n{sources}")
    for command in (["db", "upgrade"], ["postings", "--format", "json"], ["deliver"]):
        done = console_script(tmp_path, *command)
        assert done.returncode == 0, done.stderr
        assert sorted(path.name for path in tmp_path.glob("rolewatch.db*")) == ["rolewatch.db"], command


def test_close_engines_disposes_what_open_engine_opened(tmp_path: Path) -> None:
    from rolewatch.cli.common import close_engines, open_engine
    from rolewatch.resolve import parse_config

    config = parse_config(f"database: sqlite:///{tmp_path}/rolewatch.db\n")
    engine = open_engine(config, upgrade=True)
    with engine.connect():
        pass
    assert engine.pool.checkedin() == 1
    close_engines()
    assert engine.pool.checkedin() == 0
