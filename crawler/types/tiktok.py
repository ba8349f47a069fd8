"""TikTok careers by keyword, recruitment type, category and location: read by `crawler.spiders.tiktok`."""

from __future__ import annotations

from typing import Any, Final

from pydantic import Field, field_validator

from crawler.registry import SourceType
from crawler.spiders._options import max_pages_option
from rolewatch.config import SourceOptions

MAX_PAGE_SIZE = 100
#: `recruitment_id_list` values: "2" is early careers, the parent of new grad (201) and intern (202).
EARLY_CAREERS = "2"
RECRUIT_TYPE_IDS: Final = {"intern": "202", "new-grad": "201"}
DEFAULT_MAX_PAGES: Final = 100


class Options(SourceOptions):
    keyword: str = Field(
        "", description="search words (the API's match is fuzzy: 'intern' matches most jobs)"
    )
    recruitment: list[str] = Field(
        default_factory=list,
        description="intern, new-grad (both: early careers), or the API's own recruitment ids; empty: all",
    )
    categories: list[str] = Field(default_factory=list, description="job category ids (job_category_id_list)")
    locations: list[str] = Field(
        default_factory=list, description="location codes such as CT_1103355 (location_code_list)"
    )
    company: str = Field("TikTok", min_length=1, description="company name to show")
    page_size: int = Field(MAX_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="postings per request")
    max_postings: int = Field(
        3000,
        ge=1,
        le=20_000,
        description="read at most this many; results are unordered, so a board beyond it is read partially",
    )
    max_pages: int = max_pages_option(DEFAULT_MAX_PAGES)

    @field_validator("recruitment", "categories", "locations", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        """`recruitment: intern` and `recruitment: [intern]` mean the same; YAML numbers are ids."""
        if isinstance(value, str | int):
            value = [value]
        if isinstance(value, list):
            return [
                str(item) if isinstance(item, int) and not isinstance(item, bool) else item for item in value
            ]
        return value

    @field_validator("recruitment")
    @classmethod
    def _known_recruitment(cls, values: list[str]) -> list[str]:
        for value in values:
            if value not in RECRUIT_TYPE_IDS and not str(value).isdigit():
                raise ValueError(f"{value!r} is not intern, new-grad or a numeric recruitment id")
        return values

    @field_validator("locations")
    @classmethod
    def _location_codes(cls, values: list[str]) -> list[str]:
        for value in values:
            prefix, _, number = str(value).partition("_")
            if not (prefix.isalpha() and prefix.isupper() and number.isdigit()):
                raise ValueError(f"{value!r} is not a location code such as CT_1103355")
        return values

    def recruitment_ids(self) -> list[str]:
        """What the API is asked for: intern and new-grad are both read as early careers."""
        ids = [EARLY_CAREERS if value in RECRUIT_TYPE_IDS else value for value in self.recruitment]
        return list(dict.fromkeys(ids))

    def wanted_recruit_types(self) -> frozenset[str] | None:
        """The recruit-type ids kept after the fetch, or None to keep every record."""
        if not self.recruitment or any(value not in RECRUIT_TYPE_IDS for value in self.recruitment):
            return None
        return frozenset(RECRUIT_TYPE_IDS[value] for value in self.recruitment)


SOURCE_TYPE = SourceType(
    name="tiktok",
    description="TikTok careers (lifeattiktok.com) by keyword, recruitment type, category and location",
    options=Options,
    spider="crawler.spiders.tiktok:TikTokSpider",
    example={
        "name": "tiktok-early-careers",
        "type": "tiktok",
        "keyword": "data scientist",
        "recruitment": ["intern", "new-grad"],
    },
)
