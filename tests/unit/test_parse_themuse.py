"""The Muse parts that need no crawl: option checks, repeated filter parameters, the secret key."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.spider import Board
from crawler.spiders.themuse import TheMuseSpider
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from tests.fixtures.themuse import muse_job


def board(**keys: Any) -> Board[Any]:
    entry = {"name": "muse", "type": "themuse", **keys}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def test_list_filters_become_repeated_query_parameters() -> None:
    options = {"company": ["TikTok", "ByteDance"], "level": "Internship", "location": ["Sydney, Australia"]}
    (request,) = TheMuseSpider().start_requests_for(board(**options, api_key="s3cret"))
    parts = urlsplit(request.url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.themuse.com", "/api/public/jobs")
    assert parse_qs(parts.query) == {
        "page": ["0"],
        "company": ["TikTok", "ByteDance"],
        "level": ["Internship"],
        "location": ["Sydney, Australia"],
        "api_key": ["s3cret"],
    }


def test_the_api_key_is_never_shown_with_the_options() -> None:
    options = board(api_key="s3cret").options
    assert "s3cret" not in repr(options) and "s3cret" not in str(options.model_dump())


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ({"level": ["Internship", " "]}, "sources[0].level: values must not be blank"),
        ({"company": {"name": "TikTok"}}, "sources[0].company: input should be a valid list"),
        ({"page": 3}, "sources[0].page: extra inputs are not permitted"),
    ],
)
def test_options_are_checked_with_their_path(keys: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(json.dumps({"sources": [{"name": "m", "type": "themuse", **keys}]}))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_a_sparse_record_still_normalises() -> None:
    job = muse_job(5, "Marketing Intern", locations=(), categories=())
    job.update(contents=None, refs=None, company=None)
    posting = TheMuseSpider().to_posting(job, board())
    assert (posting.title, posting.employment_type, posting.url, posting.company) == (
        "Marketing Intern",
        "intern",
        None,
        None,
    )
    assert (posting.locations, posting.workplace, posting.department, posting.description_text) == (
        (),
        None,
        None,
        "",
    )
