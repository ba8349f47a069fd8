"""RSS, Atom and JSON Feed job feeds: read by `crawler.spiders.feed`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from crawler.registry import SourceType
from rolewatch.config import Duration, SourceOptions, http_url


class Options(SourceOptions):
    url: str = Field(
        min_length=1, description="the feed's URL: RSS, Atom or JSON Feed (a path uses base_url)"
    )
    company: str | None = Field(None, description="company for every item (default: the item's author)")
    company_in_title: bool = Field(
        False, description='titles read "Company: Role" (We Work Remotely): split them into the two'
    )
    location_field: list[str] = Field(
        default_factory=list,
        description="item field(s) holding the location, as feedparser names them "
        "(joblisting_location for <joblisting:location>); default: location, region and the like",
    )
    max_age: Duration | None = Field(
        timedelta(days=30),
        description="close an item after this long unseen (absence alone never closes: a feed is a "
        "window); null: never",
    )

    @field_validator("location_field", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("url")
    @classmethod
    def _web_url(cls, value: str) -> str:
        text = value.strip()
        if urlsplit(text).scheme or text.startswith("//"):
            try:
                return http_url(text)  # a whole URL must be http(s) with a host
            except ValueError:
                raise ValueError(f"not an http(s) URL or a path: {value!r}") from None
        return text

    @model_validator(mode="after")
    def _path_needs_a_host(self) -> Options:
        if "://" not in self.url and not self.base_url:
            raise ValueError(f"url {self.url!r} is a path: give base_url, or a whole http(s) URL")
        return self


SOURCE_TYPE = SourceType(
    name="feed",
    description="an RSS, Atom or JSON Feed of job postings (a window: items that drop out stay open)",
    options=Options,
    spider="crawler.spiders.feed:FeedSpider",
    example={
        "name": "remote-jobs",
        "type": "feed",
        "url": "https://weworkremotely.com/remote-jobs.rss",
        "company_in_title": True,
    },
)
