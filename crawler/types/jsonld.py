"""Pages with schema.org JobPosting markup, by start pages or a sitemap: read by `crawler.spiders.jsonld`."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from parsel import Selector
from pydantic import Field, field_validator, model_validator

from crawler.registry import SourceType
from rolewatch.config import SourceOptions, http_url


class Options(SourceOptions):
    start_urls: list[str] = Field(
        default_factory=list,
        description="pages to read: each carries JobPosting markup, detail links, or both "
        "(paths are taken relative to base_url)",
    )
    follow: str | None = Field(
        None, description="CSS selector for the detail links on the start pages (a.job-link)"
    )
    sitemap: str | None = Field(
        None, description="a sitemap.xml (or sitemap index) whose <loc> URLs are the detail pages"
    )
    sitemap_filter: str | None = Field(
        None, description="regular expression a sitemap URL must contain to be read (/jobs/)"
    )
    max_pages: int = Field(500, ge=1, description="most detail pages read per crawl; more makes it partial")
    company: str | None = Field(None, description="company name when a posting names no hiringOrganization")

    @field_validator("start_urls")
    @classmethod
    def _urls_are_web_addresses(cls, value: list[str]) -> list[str]:
        for url in value:
            _check_url(url)
        return value

    @field_validator("sitemap")
    @classmethod
    def _sitemap_is_a_web_address(cls, value: str | None) -> str | None:
        return _check_url(value) if value is not None else None

    @field_validator("follow")
    @classmethod
    def _follow_is_css(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                Selector(text="<html></html>").css(value)
            except Exception as exc:
                raise ValueError(f"not a CSS selector: {value!r} ({exc})") from None
        return value

    @field_validator("sitemap_filter")
    @classmethod
    def _filter_is_a_regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {value!r} ({exc})") from None
        return value

    @model_validator(mode="after")
    def _one_way_in(self) -> Options:
        if bool(self.start_urls) == bool(self.sitemap):
            raise ValueError("give either start_urls or sitemap (exactly one of them)")
        if self.sitemap and self.follow:
            raise ValueError("follow applies to start_urls; every sitemap URL is already a detail page")
        if self.sitemap_filter and not self.sitemap:
            raise ValueError("sitemap_filter needs sitemap")
        relative = [url for url in [*self.start_urls, self.sitemap or ""] if url and "://" not in url]
        if relative and not self.base_url:
            raise ValueError(f"{relative[0]!r} is a path: give base_url, or a whole http(s) URL")
        return self


def _check_url(url: str) -> str:
    """A whole http(s) URL, or a path to resolve against `base_url`."""
    text = url.strip()
    if not text or urlsplit(text).scheme or text.startswith("//"):
        try:
            return http_url(text)  # a whole URL must be http(s) with a host
        except ValueError:
            raise ValueError(f"not an http(s) URL or a path: {url!r}") from None
    return text


SOURCE_TYPE = SourceType(
    name="jsonld",
    description="any site whose pages carry schema.org JobPosting markup (JSON-LD or microdata)",
    options=Options,
    spider="crawler.spiders.jsonld:JsonLdSpider",
    example={
        "name": "acme",
        "type": "jsonld",
        "start_urls": ["https://acme.example/careers"],
        "follow": "a.job-link",
    },
)
