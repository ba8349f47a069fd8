"""Recruitee careers sites: a company's offers, read by `crawler.spiders.recruitee`."""

from __future__ import annotations

from pydantic import Field

from crawler.registry import SourceType
from rolewatch.config import SourceOptions


class Options(SourceOptions):
    company: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9-]*$",
        description="the careers site's subdomain, as in <company>.recruitee.com",
    )
    company_name: str | None = Field(
        None, description="company name to show (default: the offers' own company_name)"
    )


SOURCE_TYPE = SourceType(
    name="recruitee",
    description="a Recruitee careers site (<company>.recruitee.com)",
    options=Options,
    spider="crawler.spiders.recruitee:RecruiteeSpider",
    example={"name": "sendcloud", "type": "recruitee", "company": "sendcloud"},
)
