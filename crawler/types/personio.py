"""Personio jobs sites: a company's XML feed, read by `crawler.spiders.personio`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crawler.registry import SourceType
from rolewatch.config import SourceOptions

Language = Literal["de", "en", "fr", "es", "nl", "it", "pt"]


class Options(SourceOptions):
    company: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$",
        description="the jobs site's subdomain, as in <company>.jobs.personio.de",
    )
    language: Language = Field("en", description="language of the feed (Personio's default is German)")
    company_name: str | None = Field(
        None, description="company name to show (default: each position's subcompany, else the subdomain)"
    )
    country: str | None = Field(
        None,
        pattern=r"^[A-Za-z]{2}$",
        description="ISO country code for office names that carry none (Personio offices are bare names)",
    )


SOURCE_TYPE = SourceType(
    name="personio",
    description="a Personio jobs site's XML feed (<company>.jobs.personio.de/xml)",
    options=Options,
    spider="crawler.spiders.personio:PersonioSpider",
    example={"name": "personio", "type": "personio", "company": "personio", "language": "en"},
)
