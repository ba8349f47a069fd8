"""Bad input to the configuration, the command line and the scheduler lock: a clear refusal, no traceback.

Each test is a user's (or an attacker's) input and what they see: an environment value that does
not parse, a "billion laughs" YAML file, a database URL that cannot work, an unreachable database,
`init` on a shared machine, and two daemons reaching one SQLite file through a symlink.
"""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import create_engine, text

from rolewatch.cli import cli
from rolewatch.resolve import parse_config
from scheduler.lock import scheduler_lock
from storage.database import make_engine

SECRET = "s3cret-pw"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """A user's shell: no ROLEWATCH_* variables of the test run, in an empty directory."""
    for name in [n for n in os.environ if n.startswith("ROLEWATCH_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    yield


def rolewatch(*args: str, env: dict[str, str] | None = None) -> Result:
    """The CLI in this process, as a shell would run it; an uncaught exception stays in the result."""
    return CliRunner().invoke(cli, list(args), env=env)


def assert_clean_exit(result: Result, status: int) -> None:
    """The exit status the SPEC promises, reached by a message rather than by a traceback."""
    assert result.exit_code == status, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unreachable_postgresql() -> str:
    return f"postgresql+psycopg://rolewatch:{SECRET}@127.0.0.1:{closed_port()}/rolewatch"


# --- environment overrides -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("ROLEWATCH_DEFAULTS__INTERVAL", f"[1 {SECRET}"),
        ("ROLEWATCH_DATABASE_URL", f"{{postgresql+psycopg://u:{SECRET}@db/rolewatch"),
        ("ROLEWATCH_SOURCES", f"[{{name: x, token: {SECRET}}}"),
    ],
)
def test_an_environment_value_that_does_not_parse_names_its_variable_and_hides_its_value(
    variable: str, value: str
) -> None:
    Path("rolewatch.yaml").write_text("sources: []\n", encoding="utf-8")

    result = rolewatch("check", env={variable: value})

    assert_clean_exit(result, 2)
    assert variable in result.output
    assert SECRET not in result.output


def test_an_environment_value_is_kept_whole_with_its_hash_and_colons() -> None:
    config = parse_config(
        "sources: []\n",
        {
            "ROLEWATCH_DEFAULTS__USER_AGENT": "probe #7: rolewatch (+mailto:ops@example.org)",
            "ROLEWATCH_DAEMON__MAINTENANCE_AT": "13:30",  # YAML 1.1 would read 810
        },
    )
    assert config.defaults.user_agent == "probe #7: rolewatch (+mailto:ops@example.org)"
    assert config.daemon.maintenance_at == "13:30"


def test_a_database_password_from_the_environment_keeps_its_hash() -> None:
    url = "postgresql+psycopg://rolewatch:pa #ss@db.internal/rolewatch"
    assert parse_config("", {"ROLEWATCH_DATABASE_URL": url}).database == url


# --- a YAML alias bomb -----------------------------------------------------------------------------

BILLION_LAUGHS = """\
x-laughs:
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
  e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
  f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
  g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
  h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
  i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
sources:
  - name: laughs
    type: json
    url: https://api.example.org/jobs
    method: POST
    body: {query: *i}
    fields: {id: id, title: title}
"""

#: The whole `rolewatch check` process may map this much; the expanded document would need gigabytes.
MEMORY_BOUND = 1024 * 2**20


def test_a_billion_laughs_is_refused_at_once_within_a_memory_bound(tmp_path: Path) -> None:
    (tmp_path / "rolewatch.yaml").write_text(BILLION_LAUGHS, encoding="utf-8")
    environment = {k: v for k, v in os.environ.items() if not k.startswith("ROLEWATCH_")}

    def bounded() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_BOUND, MEMORY_BOUND))

    # A child process, so the bound is the kernel's and an unfixed loader cannot take this one down.
    done = subprocess.run(
        [sys.executable, "-m", "rolewatch", "check"],
        cwd=tmp_path,
        env=environment,
        preexec_fn=bounded,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 2, done.stderr
    assert "aliases expand" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_alias_that_contains_itself_is_refused() -> None:
    Path("rolewatch.yaml").write_text("subscriptions: &loop [*loop]\n", encoding="utf-8")
    result = rolewatch("check")
    assert_clean_exit(result, 2)
    assert "contains it" in result.output


# --- database URLs ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        (f"postgresql+psycopg://u:{SECRET}@localhost:99999/db", "port 99999 is out of range"),
        (f"postgresql+psycopg://u:{SECRET}@localhost:port/db", "not a database URL"),
        (f"mysql+mysqldb://u:{SECRET}@localhost/db", "use sqlite:///PATH or postgresql"),
        (f"postgresql+psycopg2://u:{SECRET}@localhost/db", "'postgresql+psycopg2' is not installed"),
        (f"postgresql::::{SECRET}", "not a database URL"),
    ],
)
def test_a_database_url_that_cannot_work_is_a_configuration_error_for_every_command(
    url: str, reason: str
) -> None:
    Path("rolewatch.yaml").write_text(f'database: "{url}"\n', encoding="utf-8")

    for command in (["check"], ["status"], ["db", "upgrade"]):
        result = rolewatch(*command)

        assert_clean_exit(result, 2)
        assert "  database: " in result.output and reason in result.output
        assert SECRET not in result.output


def test_an_http_address_with_a_port_that_cannot_exist_is_refused_by_check() -> None:
    Path("rolewatch.yaml").write_text("daemon: {http: '127.0.0.1:99999'}\n", encoding="utf-8")
    result = rolewatch("check")
    assert_clean_exit(result, 2)
    assert "daemon.http: the port must be from 1 to 65535" in result.output


def test_check_connect_reports_an_unreachable_database_with_the_password_masked() -> None:
    Path("rolewatch.yaml").write_text(f'database: "{unreachable_postgresql()}"\n', encoding="utf-8")

    assert_clean_exit(rolewatch("check"), 0)  # valid, as far as reading it can tell
    result = rolewatch("check", "--connect")

    assert_clean_exit(result, 1)
    assert "cannot connect to the database postgresql+psycopg://rolewatch:***@127.0.0.1" in result.output
    assert SECRET not in result.output


def test_check_connect_reaches_a_real_database_and_says_how_its_schema_stands(tmp_path: Path) -> None:
    Path("rolewatch.yaml").write_text(f"database: sqlite:///{tmp_path}/rolewatch.db\n", encoding="utf-8")

    missing = rolewatch("check", "--connect")
    assert_clean_exit(missing, 0)
    assert "no file yet" in missing.output
    assert not (tmp_path / "rolewatch.db").exists()  # a check creates nothing

    assert_clean_exit(rolewatch("db", "upgrade"), 0)
    found = rolewatch("check", "--connect")
    assert_clean_exit(found, 0)
    assert "connected; schema up to date" in found.output


@pytest.mark.parametrize("command", [["status"], ["events"], ["postings"], ["db", "upgrade"], ["deliver"]])
def test_a_command_on_an_unreachable_database_says_so_and_exits_1(command: list[str]) -> None:
    Path("rolewatch.yaml").write_text(f'database: "{unreachable_postgresql()}"\n', encoding="utf-8")

    result = rolewatch(*command)

    assert_clean_exit(result, 1)
    assert "cannot use the database" in result.output
    assert SECRET not in result.output


# --- init ------------------------------------------------------------------------------------------


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_init_writes_the_configuration_and_the_database_for_their_owner_only(tmp_path: Path) -> None:
    previous = os.umask(0o022)  # a usual umask: files world-readable unless created otherwise
    try:
        assert_clean_exit(rolewatch("init"), 0)
        database = make_engine(f"sqlite:///{tmp_path}/rolewatch.db")
        with database.connect() as connection:  # the write-ahead log exists while a connection is open
            connection.execute(text("SELECT count(*) FROM sources"))
            companions = [tmp_path / "rolewatch.db-wal", tmp_path / "rolewatch.db-shm"]
            assert all(path.exists() for path in companions)
            modes = {path.name: mode(path) for path in companions}
        database.dispose()
    finally:
        os.umask(previous)

    assert mode(tmp_path / "rolewatch.yaml") == 0o600
    assert mode(tmp_path / "rolewatch.db") == 0o600
    assert modes == {"rolewatch.db-wal": 0o600, "rolewatch.db-shm": 0o600}


def test_a_failed_init_leaves_no_password_and_no_file_behind(tmp_path: Path) -> None:
    result = rolewatch("init", "--database", unreachable_postgresql())

    assert_clean_exit(result, 1)
    assert SECRET not in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_init_removes_the_database_it_created(tmp_path: Path) -> None:
    # The database is created, then the configuration cannot be written (its directory is missing).
    result = rolewatch("--config", "missing/rolewatch.yaml", "init", "--database", "sqlite:///data/rw.db")

    assert_clean_exit(result, 1)
    assert "cannot write missing/rolewatch.yaml" in result.output
    assert list(tmp_path.iterdir()) == []


def test_a_failed_init_force_keeps_the_configuration_it_was_to_replace(tmp_path: Path) -> None:
    Path("rolewatch.yaml").write_text("sources: []  # mine\n", encoding="utf-8")

    result = rolewatch("init", "--force", "--database", unreachable_postgresql())

    assert_clean_exit(result, 1)
    assert Path("rolewatch.yaml").read_text(encoding="utf-8") == "sources: []  # mine\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rolewatch.yaml"]


# --- the scheduler lock ----------------------------------------------------------------------------


@pytest.mark.parametrize("linked", ["file", "directory"])
def test_two_daemons_reaching_one_sqlite_file_through_a_symlink_share_one_lock(
    tmp_path: Path, linked: str
) -> None:
    real = tmp_path / "data" / "rolewatch.db"
    real.parent.mkdir()
    real.touch()
    if linked == "file":
        alias = tmp_path / "other-name.db"
        alias.symlink_to(real)
    else:
        (tmp_path / "mounted").symlink_to(real.parent, target_is_directory=True)
        alias = tmp_path / "mounted" / "rolewatch.db"
    first = scheduler_lock(create_engine(f"sqlite:///{real}"))
    second = scheduler_lock(create_engine(f"sqlite:///{alias}"))
    try:
        assert first.acquire()
        assert not second.acquire(), f"{first.description} and {second.description} both held"
        first.release()
        assert second.acquire()
    finally:
        first.release()
        second.release()
