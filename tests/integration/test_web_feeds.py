"""Atom and JSON feeds, read back with feedparser: RFC 4287 essentials, stable ids, 304s, and a
subscription's feed holding exactly what the subscription matches."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import feedparser
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from rolewatch.output import EVENT_FIELDS
from tests.integration.storage_factory import Board, posting
from tests.integration.web_checks import cli_json
from tests.integration.web_seed import HOSTILE_TITLE, Seeded


def parse(client: TestClient, path: str) -> feedparser.FeedParserDict:
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/atom+xml")
    feed = feedparser.parse(response.content)
    assert not feed.bozo, feed.get("bozo_exception")
    return feed


def test_the_events_feed_is_valid_atom_with_stable_entry_ids(web_client: TestClient) -> None:
    feed = parse(web_client, "/feeds/events.atom")
    assert feed.version == "atom10"
    assert feed.feed.id.startswith("urn:uuid:") and feed.feed.updated_parsed and feed.feed.title
    assert feed.feed.author == "rolewatch"
    assert any(link.rel == "self" for link in feed.feed.links)
    entries = feed.entries
    assert len(entries) >= 7
    ids = [entry.id for entry in entries]
    assert len(set(ids)) == len(ids)
    for entry in entries:
        assert entry.id.startswith("urn:uuid:") and entry.updated_parsed and entry.title
        assert entry.link.startswith("http://testserver/postings/")
    again = parse(web_client, "/feeds/events.atom")
    assert [entry.id for entry in again.entries] == ids


def test_board_strings_stay_text_in_the_feed(web_client: TestClient) -> None:
    feed = parse(web_client, "/feeds/events.atom")
    titles = [entry.title for entry in feed.entries]
    assert any(HOSTILE_TITLE in title for title in titles)
    related = [link.href for entry in feed.entries for link in entry.links]
    assert not any(href.startswith("javascript:") for href in related)


def test_feeds_answer_304_to_their_etag_and_last_modified(web_client: TestClient, engine: Engine) -> None:
    for path in ("/feeds/events.atom", "/feeds/sources/acme.json", "/feeds/subscriptions/interns.atom"):
        first = web_client.get(path)
        etag = first.headers["etag"]
        assert web_client.get(path, headers={"If-None-Match": etag}).status_code == 304, path
        assert web_client.get(path, headers={"If-None-Match": '"other"'}).status_code == 200
    modified = web_client.get("/feeds/events.atom").headers["last-modified"]
    assert web_client.get("/feeds/events.atom", headers={"If-Modified-Since": modified}).status_code == 304
    old_etag = web_client.get("/feeds/events.atom").headers["etag"]
    # Recorded now with an older crawl time: the ETag still changes.
    Board(engine, "globex").crawl([posting(8, source="globex", title="Older Role")])
    assert web_client.get("/feeds/events.atom", headers={"If-None-Match": old_etag}).status_code == 200
    Board(engine, "globex", start=datetime.now(UTC)).crawl([posting(9, source="globex", title="Newest Role")])
    fresh = web_client.get("/feeds/events.atom", headers={"If-None-Match": old_etag})
    assert fresh.status_code == 200 and "Newest Role" in fresh.text


def test_a_source_feed_holds_only_that_source(web_client: TestClient) -> None:
    feed = parse(web_client, "/feeds/sources/globex.atom")
    assert [entry.title for entry in feed.entries] == ["New: Backend Engineer — Globex"]
    assert web_client.get("/feeds/sources/nope.atom").status_code == 404


def test_a_subscription_feed_holds_exactly_what_it_matches(
    web_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    expected = cli_json(tmp_path, engine, "subscriptions", "test", "interns", "--since", "30d")
    feed = parse(web_client, "/feeds/subscriptions/interns.atom")
    assert len(feed.entries) == len(expected) > 0
    wanted = sorted((row["type"], row["source"], row["at"]) for row in expected)
    got = json.loads(web_client.get("/feeds/subscriptions/interns.json").text)["items"]
    assert (
        sorted(
            (
                i["_rolewatch"]["event"]["type"],
                i["_rolewatch"]["event"]["source"],
                i["_rolewatch"]["event"]["at"],
            )
            for i in got
        )
        == wanted
    )
    assert parse(web_client, "/feeds/subscriptions/nothing.atom").entries == []
    assert web_client.get("/feeds/subscriptions/nope.atom").status_code == 404


def test_json_feed_is_json_feed_1_1_with_the_cli_event_objects(
    web_client: TestClient, web_seeded: Seeded
) -> None:
    response = web_client.get("/feeds/events.json")
    assert response.headers["content-type"].startswith("application/feed+json")
    document = response.json()
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    item = document["items"][0]
    assert {"id", "url", "title", "content_text", "date_published"} <= set(item)
    assert list(item["_rolewatch"]["event"]) == list(EVENT_FIELDS)  # the CLI's event object
    assert all("external_url" not in i or i["external_url"].startswith("https://") for i in document["items"])
