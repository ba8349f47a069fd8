"""The registry's source types: a declaration names its spider, imported when it is first asked for."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from crawler.registry import SourceType, source_types, spider_class
from crawler.types.greenhouse import Options

ROOT = Path(__file__).resolve().parents[2]


def test_every_built_in_declaration_names_its_own_spider_by_its_type() -> None:
    for name, kind in source_types().items():
        assert kind.spider.__module__ == f"crawler.spiders.{name}"
        assert kind.spider.name == name
        assert kind.options.__module__ == f"crawler.types.{name}"


def test_a_spider_named_by_a_declaration_is_imported_at_its_first_use_only() -> None:
    probe = (
        "import sys\n"
        "from crawler.registry import source_types\n"
        "kind = source_types()['lever']\n"
        "before = 'crawler.spiders.lever' in sys.modules\n"
        "kind.spider\n"
        "print(before, 'crawler.spiders.lever' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]


def test_a_spider_may_be_given_as_the_class_itself() -> None:
    """A third-party type in one module hands the class over, as every type did before."""
    kind = SourceType(name="x", description="x", options=Options, spider=int)
    assert kind.spider is int
    assert kind.example == {}


def test_a_reference_names_a_class_in_a_module() -> None:
    assert spider_class("crawler.spiders.greenhouse:GreenhouseSpider").__name__ == "GreenhouseSpider"
    with pytest.raises(AttributeError):
        spider_class("crawler.spiders.greenhouse:NoSuchSpider")
    with pytest.raises(TypeError, match="not a spider class"):
        spider_class("crawler.spiders.greenhouse:API")
