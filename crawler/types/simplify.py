"""Simplify-style listings.json files, read by `crawler.spiders.simplify`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from crawler.registry import SourceType
from rolewatch.config import HttpUrl, SourceOptions

EmploymentType = Literal["full_time", "part_time", "intern", "contract", "temporary", "graduate"]


class Options(SourceOptions):
    url: HttpUrl = Field(min_length=1, description="the listings.json URL")
    employment_type: EmploymentType | None = Field(
        None, description="what every listing is (e.g. intern for an internship list); else read from titles"
    )


SOURCE_TYPE = SourceType(
    name="simplify",
    description="a Simplify-style listings.json (a JSON array with active, is_visible, sponsorship…)",
    options=Options,
    spider="crawler.spiders.simplify:SimplifySpider",
    example={
        "name": "simplify-summer",
        "type": "simplify",
        "url": "https://raw.githubusercontent.com/SimplifyJobs/Summer2026-Internships/dev/.github/scripts/listings.json",
        "employment_type": "intern",
    },
)
