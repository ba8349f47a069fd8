"""The Muse job search by company, category, level and location: read by `crawler.spiders.themuse`."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field, SecretStr, field_validator

from crawler.registry import SourceType
from rolewatch.config import SourceOptions

#: The API refuses `page` above this (HTTP 400) however large `page_count` is: ~2,000 postings a query.
LAST_PAGE: Final = 99


class Options(SourceOptions):
    company: list[str] = Field(default_factory=list, description="company names, as The Muse spells them")
    category: list[str] = Field(default_factory=list, description="job categories, e.g. Data and Analytics")
    level: list[str] = Field(
        default_factory=list, description="Internship, Entry Level, Mid Level, Senior Level, management"
    )
    location: list[str] = Field(
        default_factory=list,
        description='e.g. "New York, NY" or "Flexible / Remote" (unknown ones match remote)',
    )
    api_key: SecretStr | None = Field(
        None, description="a registered key: 3,600 requests/hour instead of 500"
    )
    max_pages: int = Field(
        LAST_PAGE + 1,
        ge=1,
        le=LAST_PAGE + 1,
        description="pages read at most (the API serves 100); more makes the crawl partial",
    )

    @field_validator("company", "category", "level", "location", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """`level: Internship` and `level: [Internship]` mean the same."""
        return [value] if isinstance(value, str) else value

    @field_validator("company", "category", "level", "location")
    @classmethod
    def _no_blanks(cls, values: list[str]) -> list[str]:
        if any(not value.strip() for value in values):
            raise ValueError("values must not be blank")
        return values


SOURCE_TYPE = SourceType(
    name="themuse",
    description="The Muse job search (themuse.com), filtered by company, category, level and location",
    options=Options,
    spider="crawler.spiders.themuse:TheMuseSpider",
    example={"name": "muse-tiktok", "type": "themuse", "company": "TikTok", "level": ["Internship"]},
)
