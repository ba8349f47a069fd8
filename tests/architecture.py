"""The reader of docs/architecture.md for its tests: the page, and its recipe code blocks by marker.

A recipe block is the fenced block right after a `<!-- recipe: NAME -->` line; the tests run those
blocks as the page shows them, so the page and the code cannot drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "architecture.md"
_BLOCK = re.compile(r"<!-- recipe: ([\w-]+) -->\n```[\w-]*\n(.*?)^```", re.S | re.M)


def architecture() -> str:
    return PAGE.read_text(encoding="utf-8")


def recipe_blocks() -> dict[str, str]:
    """Every recipe block by its marker's name."""
    return {name: body for name, body in _BLOCK.findall(architecture())}


def recipe(name: str) -> str:
    """The block marked `<!-- recipe: name -->`; KeyError names the markers there are."""
    blocks = recipe_blocks()
    if name not in blocks:
        raise KeyError(f"docs/architecture.md has no recipe block {name!r}; it has {sorted(blocks)}")
    return blocks[name]
