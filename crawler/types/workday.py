"""Workday career sites (read by `crawler.spiders.workday`), and where a site's address says it lives."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from crawler.registry import SourceType
from crawler.spiders._options import max_pages_option
from rolewatch.config import SourceOptions

DEFAULT_MAX_DETAILS: Final = 200
#: 10,000 postings: five times what one query serves, for sites read by partition.
DEFAULT_MAX_PAGES: Final = 500
_LOCALE: Final = re.compile(r"[a-z]{2}(?:-[A-Za-z]{2,4})?")


@dataclass(frozen=True)
class CareerSite:
    """Where a career site lives: its public host, tenant, site name, and its posting URL prefix."""

    host: str
    tenant: str
    site: str
    prefix: str

    def posting_url(self, external_path: str) -> str:
        return f"{self.host}{self.prefix}{external_path}"


def career_site(url: str, tenant: str | None = None, site: str | None = None) -> CareerSite:
    """Read a career site's address: `https://acme.wd5.myworkdayjobs.com/en-US/External`, the same
    without the locale, a posting's address under it, `https://wd3.myworkdaysite.com/recruiting/acme/External`,
    or the CXS API's own `…/wday/cxs/acme/External/jobs`. Raises ValueError naming what is missing.
    """
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    if not parts.hostname:
        raise ValueError(f"{url!r} is not an address")
    host = f"{parts.scheme}://{parts.netloc}"
    segments = [segment for segment in parts.path.split("/") if segment]
    if segments and _LOCALE.fullmatch(segments[0]):
        segments = segments[1:]
    found_tenant: str | None = None
    found_site: str | None = None
    recruiting = segments[:1] == ["recruiting"]  # wdN.myworkdaysite.com/recruiting/<tenant>/<site>
    if segments[:2] == ["wday", "cxs"] and len(segments) >= 4:
        found_tenant, found_site = segments[2], segments[3]
    elif recruiting and len(segments) >= 3:
        found_tenant, found_site = segments[1], segments[2]
    elif segments and not recruiting:
        found_site = segments[0]
    if found_tenant is None and parts.hostname.endswith(".myworkdayjobs.com"):
        found_tenant = parts.hostname.split(".")[0]
    chosen_tenant, chosen_site = tenant or found_tenant, site or found_site
    if not chosen_site:
        raise ValueError(f"{url!r} names no career site (expected e.g. …myworkdayjobs.com/en-US/External)")
    if not chosen_tenant:
        raise ValueError(f"{url!r} names no tenant: give `tenant` too")
    prefix = f"/recruiting/{chosen_tenant}" if recruiting else ""
    return CareerSite(host, chosen_tenant, chosen_site, f"{prefix}/{chosen_site}")


class Options(SourceOptions):
    url: str | None = Field(
        None, description="the career site's address, e.g. https://acme.wd5.myworkdayjobs.com/en-US/External"
    )
    host: str | None = Field(
        None, description="the site's host, e.g. acme.wd5.myworkdayjobs.com (without url)"
    )
    tenant: str | None = Field(None, description="the tenant, as in /wday/cxs/<tenant>/ (default: from url)")
    site: str | None = Field(None, description="the career site name, e.g. External (default: from url)")
    company: str | None = Field(None, description="company name to show (default: the tenant)")
    search_text: str = Field("", description="only postings matching this text (the site's search box)")
    applied_facets: dict[str, list[str]] = Field(
        default_factory=dict,
        description="facet filters as the site sends them: {facetParameter: [value ids]}",
    )
    partition_by: str | None = Field(
        None,
        description="a facet (e.g. jobFamilyGroup, locations) whose values are crawled one by one "
        "when the site lists 2,000 postings or more, the most one query serves",
    )
    max_details: int = Field(
        DEFAULT_MAX_DETAILS,
        ge=0,
        description="detail requests per crawl at most; postings beyond it keep their list data "
        "(no description) and the crawl is partial until a later crawl fetches them",
    )
    max_pages: int = max_pages_option(DEFAULT_MAX_PAGES, "list pages read per crawl (every partition)")

    @field_validator("url")
    @classmethod
    def _readable_url(cls, value: str | None) -> str | None:
        if value is not None:
            parts = urlsplit(value.strip() if "://" in value else f"https://{value.strip()}")
            if parts.scheme not in ("http", "https"):
                raise ValueError(f"not an http(s) address: {value!r}")
            if not parts.hostname:
                raise ValueError(f"{value!r} is not an address")
        return value

    @model_validator(mode="after")
    def _site_is_known(self) -> Options:
        if not self.url and not (self.host and self.tenant and self.site):
            raise ValueError("give `url` (the career site's address) or all of `host`, `tenant` and `site`")
        self.career_site()  # raises ValueError naming what the address lacks
        return self

    def career_site(self) -> CareerSite:
        """The site these options name; `tenant` and `site` override what the address says."""
        address = self.url or f"{self.host}/{self.site}"
        return career_site(address, tenant=self.tenant, site=self.site)


SOURCE_TYPE = SourceType(
    name="workday",
    description="a Workday career site (<tenant>.wdN.myworkdayjobs.com/<site>), with one detail per posting",
    options=Options,
    spider="crawler.spiders.workday:WorkdaySpider",
    example={
        "name": "salesforce",
        "type": "workday",
        "url": "https://salesforce.wd12.myworkdayjobs.com/en-US/External_Career_Site",
        "partition_by": "jobFamilyGroup",
    },
)
