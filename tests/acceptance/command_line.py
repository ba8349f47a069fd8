"""`rolewatch` run in this process by click's runner, answering as the finished process would."""

from __future__ import annotations

import contextlib
import os
import traceback
from dataclasses import dataclass
from pathlib import Path

from click.testing import CliRunner

from rolewatch.cli import cli

#: The koala board's listing path on the board server, as a Greenhouse source named `koala` reads it.
BOARD_PATH = "/v1/boards/koala/jobs"


@dataclass(frozen=True)
class Finished:
    """What a shell sees of a finished command: its exit status and its two streams."""

    returncode: int
    stdout: str
    stderr: str


def rolewatch(cwd: Path, *args: str, env: dict[str, str] | None = None) -> Finished:
    """`rolewatch ARGS` in `cwd` from a shell that has none of the test run's ROLEWATCH_* variables.

    In-process saves a Python start and rolewatch's imports per command. An uncaught exception
    ends the command as it would end the process: status 1 and a traceback on stderr.
    """
    cleared: dict[str, str | None] = {name: None for name in os.environ if name.startswith("ROLEWATCH_")}
    with contextlib.chdir(cwd):
        result = CliRunner().invoke(cli, list(args), env={**cleared, **(env or {})})
    stderr = result.stderr
    if result.exc_info is not None and not isinstance(result.exception, SystemExit):
        stderr += "".join(traceback.format_exception(*result.exc_info))
    return Finished(result.exit_code, result.stdout, stderr)
