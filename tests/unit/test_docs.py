"""The README cannot drift: every command, setting and source type is documented, and its examples run."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from crawler.registry import source_types
from rolewatch.cli import cli
from rolewatch.config import (
    Config,
    Daemon,
    Defaults,
    Delivery,
    Operators,
    Politeness,
    SourceConfig,
    Subscription,
    Web,
    WebAuth,
)
from rolewatch.resolve import parse_config

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def command_paths(group: click.Group, prefix: str = "rolewatch") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            paths += command_paths(command, path)
        else:
            paths.append(path)
    return paths


@pytest.mark.parametrize("path", command_paths(cli))
def test_every_command_is_documented(path: str) -> None:
    assert f"`{path}" in README, f"README does not document `{path}`"


@pytest.mark.parametrize("name", sorted(source_types()))
def test_every_source_type_has_a_section(name: str) -> None:
    assert f"### `{name}`" in README


SETTINGS = (
    [f"defaults.{f}" for f in Defaults.model_fields if f != "politeness"]
    + [f"defaults.politeness.{f}" for f in Politeness.model_fields]
    + [
        f
        for f in Config.model_fields
        if f not in ("defaults", "sources", "operators", "delivery", "daemon", "web")
    ]
    + [f"operators.{f}" for f in Operators.model_fields]
    + [f"delivery.{f}" for f in Delivery.model_fields]
    + [f"daemon.{f}" for f in Daemon.model_fields]
    + [f"web.{f}" for f in Web.model_fields if f != "auth"]
    + [f"web.auth.{f}" for f in WebAuth.model_fields]
    + [f"subscriptions[].{f}" for f in Subscription.model_fields]
    + [f"sources[].{f}" for f in ("name", "type", "enabled", "base_url", "allowed_hosts")]
)


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_setting_is_in_the_settings_table(setting: str) -> None:
    assert f"| `{setting}`" in README, f"README's settings table lacks `{setting}`"


def test_per_source_overrides_are_documented() -> None:
    overrides = [f for f in SourceConfig.model_fields if f not in ("name", "type", "enabled", "options")]
    row = next(line for line in README.splitlines() if line.startswith("| `sources[].interval`"))
    for field in overrides:
        assert f"`{field}`" in row or f"`sources[].{field}`" in row


def test_the_readme_configuration_example_is_valid() -> None:
    section = README.split("## Configuration", 1)[1]
    example = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert example is not None
    config = parse_config(example.group(1))
    assert [s.type for s in config.sources] == ["greenhouse", "lever", "lever", "simplify"]


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```sh\n(.*?)\n```", README, re.S)
    assert len(commands) >= 2, "the README gives a setup-and-run command and a test command"
    ci = (Path(__file__).resolve().parents[2] / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1].strip() in ci
