"""Personio parts that need no crawl: the request, and an XML parser that fetches and expands nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import Response

from crawler.spider import Board, ListingError
from crawler.spiders.personio import PersonioSpider
from rolewatch.config import ConfigError
from rolewatch.resolve import parse_config
from tests.fixtures.personio import personio_feed, personio_position


def board(**options: Any) -> Board[Any]:
    entry = {"name": "wombat", "type": "personio", "company": "wombat", **options}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def xml(body: bytes) -> Response:
    url = "https://wombat.jobs.personio.de/xml?language=en"
    return Response(url, body=body, headers={"Content-Type": "text/xml"}, request=Request(url))


def test_the_request_asks_for_the_configured_language() -> None:
    (request,) = PersonioSpider().start_requests_for(board(language="fr"))
    assert request.url == "https://wombat.jobs.personio.de/xml?language=fr"
    (com,) = PersonioSpider().start_requests_for(board(base_url="https://wombat.jobs.personio.com"))
    assert com.url == "https://wombat.jobs.personio.com/xml?language=en"


def test_an_unknown_language_is_refused_by_its_key() -> None:
    entry = {"name": "w", "type": "personio", "company": "wombat", "language": "klingon"}
    with pytest.raises(ConfigError) as refused:
        parse_config(json.dumps({"sources": [entry]}))
    assert "sources[0].language" in str(refused.value)


def test_records_are_plain_dicts_so_their_digest_is_stable() -> None:
    feed = personio_feed([personio_position(9, "Analyst", "Munich", ["Berlin", "Hamburg"])])
    (record,) = PersonioSpider().parse_listing(xml(feed), board())
    assert record["additionalOffices"] == ["Berlin", "Hamburg"]
    assert record["jobDescriptions"][0]["name"] == "Your mission"
    json.dumps(record)  # nothing lxml-specific left in it


def test_external_entities_are_never_fetched_and_entity_bombs_never_expand() -> None:
    xxe = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>'
        b"<workzag-jobs><position><id>1</id><name>Analyst &secret;</name></position></workzag-jobs>"
    )
    (record,) = PersonioSpider().parse_listing(xml(xxe), board())
    assert "root:" not in record["name"]
    lol = "&lol;" * 10
    entities = "".join(f'<!ENTITY lol{n + 1} "{lol.replace("lol;", f"lol{n};")}">' for n in range(8))
    bomb = (
        f'<?xml version="1.0"?><!DOCTYPE b [<!ENTITY lol0 "lol">{entities}]>'
        "<workzag-jobs><position><id>2</id><name>&lol8;</name></position></workzag-jobs>"
    ).encode()
    try:
        records = list(PersonioSpider().parse_listing(xml(bomb), board()))
    except ListingError:
        return  # libxml2 refusing the document outright is just as safe
    assert all(len(r.get("name", "")) < 1000 for r in records)
