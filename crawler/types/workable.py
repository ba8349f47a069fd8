"""Workable careers pages: an account's jobs, read by `crawler.spiders.workable`."""

from __future__ import annotations

from pydantic import Field

from crawler.registry import SourceType
from rolewatch.config import SourceOptions


class Options(SourceOptions):
    account: str = Field(
        min_length=1,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$",
        description="the account slug, as in apply.workable.com/<account>",
    )
    company: str | None = Field(None, description="company name to show (default: the account's own name)")


SOURCE_TYPE = SourceType(
    name="workable",
    description="a Workable careers page (apply.workable.com/<account>)",
    options=Options,
    spider="crawler.spiders.workable:WorkableSpider",
    example={"name": "huggingface", "type": "workable", "account": "huggingface"},
)
