"""Greenhouse job board API: a board token, read whole by `crawler.spiders.greenhouse`."""

from __future__ import annotations

from pydantic import Field

from crawler.registry import SourceType
from rolewatch.config import SourceOptions


class Options(SourceOptions):
    board: str = Field(min_length=1, description="the board token, as in boards.greenhouse.io/<board>")
    company: str | None = Field(None, description="company name to show (default: the board's own)")


SOURCE_TYPE = SourceType(
    name="greenhouse",
    description="a Greenhouse job board (boards.greenhouse.io/<board>)",
    options=Options,
    spider="crawler.spiders.greenhouse:GreenhouseSpider",
    example={"name": "stripe", "type": "greenhouse", "board": "stripe"},
)
