"""The shipped image's Dockerfile read as instructions, for the image tests and the health-check test."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) for every line of the Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text(encoding="utf-8"))
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, arguments = line.partition(" ")
            found.append((keyword.upper(), " ".join(arguments.split())))
    return found


def final_stage() -> list[tuple[str, str]]:
    """The instructions of the image that ships: from the last FROM on."""
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    return steps[last_from:]


def the(keyword: str) -> str:
    [arguments] = [arguments for found, arguments in final_stage() if found == keyword]
    return arguments


def healthcheck_command() -> list[str]:
    """The HEALTHCHECK's exec-form command (what `tests/integration/test_http.py` runs for real)."""
    _, command = the("HEALTHCHECK").split(" CMD ", 1)
    parsed = json.loads(command)
    assert isinstance(parsed, list)
    return [str(part) for part in parsed]
