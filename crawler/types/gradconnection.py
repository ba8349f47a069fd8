"""GradConnection's country sites (graduate jobs, internships): read by `crawler.spiders.gradconnection`."""

from __future__ import annotations

import re
from typing import Final

from pydantic import Field, field_validator

from crawler.registry import SourceType
from rolewatch.config import SourceOptions

MAX_PAGE_SIZE = 100
_LOCATION: Final = re.compile(r"[a-z0-9-]+,[A-Z]{2},[A-Za-z]+")


_SLUG_PATTERN: Final = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"


class Options(SourceOptions):
    country: str = Field(
        "au", pattern=r"^[a-z]{2}$", description="the country site: au, nz, uk, hk, sg, ca, my"
    )
    job_type: str | None = Field(
        None, pattern=_SLUG_PATTERN, description="the site's job-type slug: graduate-jobs, internships, …"
    )
    query: str | None = Field(None, min_length=1, description="search words")
    discipline: str | None = Field(
        None, pattern=_SLUG_PATTERN, description="one discipline slug, e.g. data-science-and-analytics"
    )
    location: str | None = Field(
        None,
        description="the site's location form <slug>,<COUNTRY>,<Cities|Country|Remote>: sydney,AU,Cities",
    )
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="campaign groups per request")
    max_pages: int = Field(50, ge=1, le=1000, description="pages read at most; more makes the crawl partial")

    @field_validator("location")
    @classmethod
    def _location_form(cls, value: str | None) -> str | None:
        if value is not None and not _LOCATION.fullmatch(value):
            raise ValueError(
                "use the site's form <slug>,<COUNTRY>,<Cities|Country|Remote> such as sydney,AU,Cities; "
                "the API ignores a bare city name"
            )
        return value


SOURCE_TYPE = SourceType(
    name="gradconnection",
    description="GradConnection graduate jobs and internships (au.gradconnection.com and its sister sites)",
    options=Options,
    spider="crawler.spiders.gradconnection:GradConnectionSpider",
    example={
        "name": "gradconnection-ds",
        "type": "gradconnection",
        "job_type": "internships",
        "query": "data science",
        "country": "au",
    },
)
