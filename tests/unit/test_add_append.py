"""`rolewatch add` writes its source into the file as text: every other line stays, whatever its shape."""

from __future__ import annotations

import pytest
import yaml

from rolewatch.cli.add import append_source
from rolewatch.config import ConfigError

ITEM = "- name: acme\n  type: lever\n  site: acme\n"


def sources(text: str) -> list[dict[str, str]]:
    found: list[dict[str, str]] = yaml.safe_load(text)["sources"]
    return found


def test_the_item_goes_at_the_end_of_the_list_before_the_next_key() -> None:
    text = "sources:\n    # first\n    - {name: a, type: ashby, board: a}  # kept\n\n# later\ndelivery: {}\n"
    out = append_source(text, ITEM)
    assert out.startswith(text.split("\n\n")[0])
    assert out.endswith("\n\n# later\ndelivery: {}\n")
    assert "    - name: acme\n      type: lever" in out  # the list's own indentation
    assert sources(out)[-1] == {"name": "acme", "type": "lever", "site": "acme"}


def test_a_list_at_column_zero_and_no_final_newline() -> None:
    out = append_source("sources:\n- {name: a, type: greenhouse, board: a}", ITEM)
    assert [s["name"] for s in sources(out)] == ["a", "acme"]


def test_an_empty_list_becomes_a_block_list_with_its_comment() -> None:
    out = append_source("database: sqlite:///x.db\nsources: []  # none yet\n", ITEM)
    assert out.startswith("database: sqlite:///x.db\nsources:  # none yet\n")
    assert sources(out) == [{"name": "acme", "type": "lever", "site": "acme"}]


def test_a_file_without_sources_gains_the_key() -> None:
    out = append_source("# mine\ndatabase: sqlite:///x.db", ITEM)
    assert out.startswith("# mine\ndatabase: sqlite:///x.db\n")
    assert sources(out) == [{"name": "acme", "type": "lever", "site": "acme"}]


def test_a_flow_style_list_is_not_rewritten() -> None:
    with pytest.raises(ConfigError, match="flow style"):
        append_source("sources: [{name: a, type: greenhouse, board: a}]\n", ITEM)
