"""Ashby job boards: a board name, read with compensation by `crawler.spiders.ashby`."""

from __future__ import annotations

from pydantic import Field

from crawler.registry import SourceType
from rolewatch.config import SourceOptions


class Options(SourceOptions):
    board: str = Field(min_length=1, description="the job board name, as in jobs.ashbyhq.com/<board>")
    company: str | None = Field(None, description="company name to show (default: the board name)")


SOURCE_TYPE = SourceType(
    name="ashby",
    description="an Ashby job board (jobs.ashbyhq.com/<board>), with compensation",
    options=Options,
    spider="crawler.spiders.ashby:AshbySpider",
    example={"name": "openai", "type": "ashby", "board": "openai"},
)
