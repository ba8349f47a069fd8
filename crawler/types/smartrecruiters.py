"""SmartRecruiters companies, a detail per posting: read by `crawler.spiders.smartrecruiters`."""

from __future__ import annotations

from pydantic import Field, field_validator

from crawler.registry import SourceType
from crawler.spiders._options import max_pages_option
from rolewatch.config import SourceOptions

MAX_PAGE_SIZE = 100
DEFAULT_MAX_DETAILS = 200
DEFAULT_MAX_PAGES = 100


class Options(SourceOptions):
    company: str = Field(
        min_length=1, description="the company identifier, as in jobs.smartrecruiters.com/<company>"
    )
    company_name: str | None = Field(None, description="company name to show (default: the board's own)")
    query: str | None = Field(None, description="only postings matching this text (the API's `q`)")
    country: str | None = Field(
        None, description="only postings in this country, ISO 3166 alpha-2 (the API's `country`)"
    )
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="postings per list request")
    max_pages: int = max_pages_option(DEFAULT_MAX_PAGES, "list pages read per crawl")
    max_details: int = Field(
        DEFAULT_MAX_DETAILS,
        ge=0,
        description="detail requests per crawl at most; postings beyond it keep their list data "
        "(no description) and the crawl is partial until a later crawl fetches them",
    )

    @field_validator("country")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        if value is not None and (len(value.strip()) != 2 or not value.strip().isalpha()):
            raise ValueError("use a two-letter country code such as au or us")
        return value.strip().lower() if value is not None else None


SOURCE_TYPE = SourceType(
    name="smartrecruiters",
    description="a SmartRecruiters company (jobs.smartrecruiters.com/<company>), with one detail per posting",
    options=Options,
    spider="crawler.spiders.smartrecruiters:SmartRecruitersSpider",
    example={"name": "visa", "type": "smartrecruiters", "company": "Visa"},
)
