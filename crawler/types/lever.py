"""Lever job sites: a site name, read page by page by `crawler.spiders.lever`."""

from __future__ import annotations

from pydantic import Field

from crawler.registry import SourceType
from crawler.spiders._options import max_pages_option
from rolewatch.config import SourceOptions

EU_API = "https://api.eu.lever.co"
MAX_PAGE_SIZE = 100
DEFAULT_MAX_PAGES = 100


class Options(SourceOptions):
    site: str = Field(min_length=1, description="the site name, as in jobs.lever.co/<site>")
    company: str | None = Field(None, description="company name to show (default: the site name)")
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="postings per request")
    max_pages: int = max_pages_option(DEFAULT_MAX_PAGES)


SOURCE_TYPE = SourceType(
    name="lever",
    description=f"a Lever job site (jobs.lever.co/<site>; EU sites: base_url: {EU_API})",
    options=Options,
    spider="crawler.spiders.lever:LeverSpider",
    example={"name": "palantir", "type": "lever", "site": "palantir"},
)
