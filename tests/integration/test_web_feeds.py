"""Atom and JSON feeds, read back with feedparser: RFC 4287 essentials, stable ids, 304s, and a
subscription's feed holding exactly what the subscription alerts on (its outbox rows)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import feedparser
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from notifier.alerts import Outbox
from notifier.matching import SubscriptionBook
from rolewatch.config import Config
from rolewatch.output import EVENT_FIELDS
from rolewatch.resolve import parse_config
from rolewatch.web import create_app
from storage.models import EventRow, OutboxRow, PostingRow, SourceRow
from storage.outbox import list_deliveries, load_alerts, outbox_depth
from storage.recording import CrawlRecord
from storage.stats import OUTBOX_STATUSES, database_figures
from tests.integration.storage_factory import Board, posting
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


def feed_events(client: TestClient, name: str) -> list[tuple[str, str, str]]:
    """(type, source, external id) of each entry of a subscription's JSON feed, from its event object."""
    response = client.get(f"/feeds/subscriptions/{name}.json")
    assert response.status_code == 200, response.text
    events = [item["_rolewatch"]["event"] for item in response.json()["items"]]
    return [(event["type"], event["source"], event["external_id"]) for event in events]


def outbox_events(engine: Engine, recipient: str) -> set[tuple[str, str, str]]:
    """What the notifier wrote into the outbox for `recipient`: (type, source, external id) per event."""
    query = (
        select(EventRow.type, SourceRow.name, PostingRow.external_id)
        .join(OutboxRow, OutboxRow.event_id == EventRow.id)
        .join(SourceRow, SourceRow.id == EventRow.source_id)
        .join(PostingRow, PostingRow.id == EventRow.posting_id)
        .where(OutboxRow.recipient == recipient)
    )
    with engine.connect() as connection:
        return {(row[0], row[1], row[2]) for row in connection.execute(query)}


def test_a_subscription_feed_holds_exactly_what_it_alerts_on(web_client: TestClient, engine: Engine) -> None:
    feed = parse(web_client, "/feeds/subscriptions/interns.atom")
    alerted = outbox_events(engine, "interns")
    assert len(feed.entries) == len(alerted) > 0
    assert set(feed_events(web_client, "interns")) == alerted
    assert all(entry.link.startswith("http://testserver/postings/acme/") for entry in feed.entries)
    assert parse(web_client, "/feeds/subscriptions/nothing.atom").entries == []
    assert web_client.get("/feeds/subscriptions/nope.atom").status_code == 404


def listed_twice(engine: Engine, config: Config) -> CrawlRecord:
    """An intern role on board `acme`, then the same role on board `bilby` (a duplicate of it),
    each crawl recorded with the notifier writing its alerts; the second crawl is returned."""
    outbox = Outbox(config)
    start = datetime.now(UTC) - timedelta(hours=2)
    Board(engine, "acme", start=start, then=outbox.after_record).crawl([posting(1, company="Koala")])
    second = Board(engine, "bilby", start=start, then=outbox.after_record).crawl(
        [posting(77, source="bilby", company="Koala", title="Data Scientist Intern 1")]
    )
    assert second.events[0].duplicate_of == "acme/1"
    return second


def test_a_duplicate_the_subscription_stays_quiet_about_is_not_in_its_feed(engine: Engine) -> None:
    """The same role listed on a second board matches `interns`' query, yet the notifier does not
    alert it twice; `loud`, which asked for reposts, hears of both, and so does its feed."""
    config = parse_config(
        """
subscriptions:
  - {name: interns, query: 'title:intern', notify: ["json://127.0.0.1:9/hook"]}
  - {name: loud, query: 'title:intern', notify: ["json://127.0.0.1:9/hook"], reposts: true}
"""
    )
    second = listed_twice(engine, config)
    # The duplicate does match the subscription: only the notifier's quiet rule keeps it out.
    book = SubscriptionBook(config)
    with engine.connect() as connection:
        duplicate = load_alerts(connection, [second.events[0].id or 0])[second.events[0].id or 0]
    assert book.matching(duplicate.event, duplicate.posting) == ["interns", "loud"]

    with TestClient(create_app(engine, lambda: config)) as client:
        quiet, loud = feed_events(client, "interns"), feed_events(client, "loud")
        atom = parse(client, "/feeds/subscriptions/interns.atom")

    assert quiet == [("new", "acme", "1")] and len(atom.entries) == 1
    assert set(quiet) == outbox_events(engine, "interns")
    assert loud == [("new", "bilby", "77"), ("new", "acme", "1")]
    assert set(loud) == outbox_events(engine, "loud")


def test_a_subscription_with_no_channel_still_has_its_alerts_in_its_feed(engine: Engine) -> None:
    """A feed reader is a way to follow a subscription: with no `notify` channel its alerts are kept
    for the feed (never sent, never owed), and the quiet rule for a duplicate still holds."""
    config = parse_config("subscriptions:\n  - {name: reader, query: 'title:intern'}\n")
    listed_twice(engine, config)

    with TestClient(create_app(engine, lambda: config)) as client:
        assert feed_events(client, "reader") == [("new", "acme", "1")]
        assert len(parse(client, "/feeds/subscriptions/reader.atom").entries) == 1
    assert outbox_depth(engine) == 0 and list_deliveries(engine) == []
    assert database_figures(engine).deliveries == dict.fromkeys(OUTBOX_STATUSES, 0)


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
