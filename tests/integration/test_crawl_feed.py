"""RSS, Atom and JSON Feed on a real HTTP server: normalised items, 304s, faults, the feed window."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, EventType, Location, Salary
from storage.diff import Policy, SourceState, apply_outcome, diff
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply
from tests.fixtures.feed import (
    ATOM,
    JSON_FEED_TYPE,
    RSS,
    atom_entry,
    atom_feed,
    json_feed,
    json_feed_item,
    rss_feed,
    rss_item,
)
from tests.integration.crawling import by_name, resolved

QUOLL_ITEMS = [
    rss_item(
        "QC-2026-014",
        "Ranger Intern (Summer)",
        link="https://quoll.example/jobs/14?utm_medium=rss&lang=en",
        description_html="<p>Count quolls at dusk &amp; dawn.</p><p>We offer visa sponsorship.</p>",
        categories=["Internship", "Conservation"],
        job={
            "location": "Hobart, Tasmania",
            "department": "Field Programs",
            "minimumSalary": "32",
            "maximumSalary": "36",
            "salaryCurrency": "AUD",
            "salaryInterval": "Hour",
            "advertiseToDateTimeUTC": "Sun, 20 Sep 2037 04:59:00:0",
        },
    ),
    rss_item(
        None,  # no guid: the link is the identity
        "Quoll Conservancy: Data Analyst",
        link="https://quoll.example/jobs/15",
        description_html="<p>Pay: $95,000 - $105,000 per year.</p>",
        pub_date="Mon, 17 Aug 2026 22:00:00 +0000",
        plain={
            "region": "Anywhere in the World",
            "type": "Contract",
            "expires_at": "Sun, 09 Aug 2037 22:45:30 +0000",
        },
    ),
]


def validated(body: bytes, headers: Mapping[str, str], etag: str) -> Handler:
    """Serve `body` with an ETag, and 304 to a request that sends it back."""

    def handler(request: BoardRequest) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, b"", {"ETag": etag})
        return Reply(200, body, {**headers, "ETag": etag})

    return handler


def quoll(server: BoardServer) -> dict[str, object]:
    return {"name": "quoll", "type": "feed", "url": f"{server.url}/jobs.rss", "company": "Quoll Conservancy"}


def test_rss_atom_and_json_feed_items_are_normalised_and_revalidated(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    server = board_server
    server.route("/jobs.rss", validated(rss_feed(QUOLL_ITEMS), RSS, etag='"q1"'))
    entry = atom_entry(
        "tag:platypus.example,2026:job-7",
        "R&amp;D <b>Intern</b>, Sonar",
        href="/careers/7?utm_source=feed",
        categories=["Internship", "Engineering"],
    )
    server.set_raw("/careers.atom", atom_feed([entry]), headers=ATOM)
    echidna = [
        json_feed_item(
            "5b0c7e5a-0001",
            "Warehouse Associate",
            url="https://echidna.example/jobs/1-warehouse-associate",
            tags=["Warehouse"],
            jobposting={
                "identifier": {"@type": "PropertyValue", "name": "Echidna", "value": 9001},
                "employmentType": "PART_TIME",
                "jobLocation": [
                    {
                        "@type": "Place",
                        "address": {
                            "addressLocality": "Brisbane",
                            "addressRegion": "QLD",
                            "addressCountry": "AU",
                        },
                    },
                ],
                "baseSalary": {
                    "@type": "MonetaryAmount",
                    "currency": "AUD",
                    "value": {"@type": "QuantitativeValue", "value": 31.5, "unitText": "HOUR"},
                },
            },
        ),
        json_feed_item(
            88,
            "Fleet Graduate Program",
            url="https://echidna.example/jobs/88",
            content_html=None,
            content_text="Rotate through three depots.\n\nStarts February.",
            location_text="Gold Coast, QLD",
        ),
    ]
    body = json.dumps(json_feed(echidna, authors=[{"name": "Echidna Logistics"}])).encode()
    server.set_raw("/jobs.json", body, headers=JSON_FEED_TYPE)
    entries = [
        quoll(server),
        {"name": "platypus", "type": "feed", "url": "/careers.atom", "base_url": server.url},
        {
            "name": "echidna",
            "type": "feed",
            "url": f"{server.url}/jobs.json",
            "location_field": "location_text",
        },
    ]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    feed = results["quoll"]
    assert feed.verdict is CrawlVerdict.COMPLETE, feed.reason
    assert (feed.closes_by_absence, feed.max_age) == (False, timedelta(days=30)), "a feed is a window"
    ranger, analyst = sorted(feed.postings, key=lambda p: p.title, reverse=True)
    assert ranger.external_id == "QC-2026-014"
    assert (ranger.title, ranger.company, ranger.department) == (
        "Ranger Intern (Summer)",
        "Quoll Conservancy",
        "Field Programs",
    )
    assert ranger.url == ranger.apply_url == "https://quoll.example/jobs/14?lang=en"
    assert ranger.locations == (Location("Hobart, Tasmania", city="Hobart", region="TAS", country="AU"),)
    assert ranger.employment_type == "intern"  # from the category tags (and the title)
    assert ranger.salary == Salary(32, 36, "AUD", "hour")
    assert ranger.posted_at == datetime(2026, 8, 18, 9, 30, tzinfo=UTC)
    assert ranger.deadline == datetime(2037, 9, 20, 4, 59, tzinfo=UTC)
    assert (
        ranger.description_html == "<p>Count quolls at dusk &amp; dawn.</p><p>We offer visa sponsorship.</p>"
    )
    assert "dusk & dawn" in ranger.description_text
    assert ranger.work_rights is not None and ranger.work_rights.sponsorship == "offered"
    assert ranger.extra["job_department"] == "Field Programs" and ranger.extra["job_salaryinterval"] == "Hour"

    assert analyst.external_id == "https://quoll.example/jobs/15"
    assert analyst.title == "Quoll Conservancy: Data Analyst", "company_in_title is off by default"
    assert analyst.employment_type == "contract" and analyst.workplace == "remote"
    assert analyst.locations == (Location("Anywhere in the World", remote=True),)
    assert analyst.salary == Salary(95000, 105000, "USD", "year", "$95,000 - $105,000 per year")
    assert analyst.deadline == datetime(2037, 8, 9, 22, 45, 30, tzinfo=UTC)
    assert analyst.extra == {"region": "Anywhere in the World", "type": "Contract",
                             "expires_at": "Sun, 09 Aug 2037 22:45:30 +0000"}  # fmt: skip

    (sonar,) = results["platypus"].postings
    assert sonar.external_id == "tag:platypus.example,2026:job-7"
    assert (sonar.title, sonar.company, sonar.employment_type) == (
        "R&D Intern, Sonar",
        "Platypus Robotics",
        "intern",
    )
    assert sonar.url == f"{server.url}/careers/7", "a relative link is resolved against the feed's URL"
    assert sonar.posted_at == datetime(2026, 8, 20, 2, 15, tzinfo=UTC)  # only <updated> given
    assert sonar.description_html == "<p>Build <em>underwater</em> drones.</p>"

    json_items = {p.external_id: p for p in results["echidna"].postings}
    associate, graduate = json_items["5b0c7e5a-0001"], json_items["88"]
    assert associate.company == "Echidna Logistics"  # the feed's authors
    assert associate.employment_type == "part_time"  # from the embedded JobPosting
    assert associate.locations == (Location("Brisbane, QLD", city="Brisbane", region="QLD", country="AU"),)
    assert associate.salary == Salary(31.5, 31.5, "AUD", "hour")
    assert associate.posted_at == datetime(2026, 8, 11, 22, tzinfo=UTC)
    assert graduate.employment_type == "graduate"
    assert graduate.locations == (Location("Gold Coast, QLD", city="Gold Coast", region="QLD", country="AU"),)
    assert graduate.description_html == "<p>Rotate through three depots.</p><p>Starts February.</p>"

    (listing,) = server.requests_to("/jobs.rss")
    assert "application/rss+xml" in listing.headers["accept"]
    assert list(feed.validators) == [f"{server.url}/jobs.rss"]
    (again,) = crawl_sources(
        resolved([quoll(server)]), validators={"quoll": feed.validators}, workers=crawl_workers
    )
    assert again.verdict is CrawlVerdict.COMPLETE and again.unchanged and again.postings == ()
    assert server.requests_to("/jobs.rss")[-1].headers["if-none-match"] == '"q1"'


def test_faults_get_their_verdicts_and_items_leaving_the_window_stay_open(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    server = board_server
    page = b"<!DOCTYPE html><html><body><h1>Jobs moved to our new site</h1></body></html>"
    server.set_raw("/html.rss", page, headers={"Content-Type": "text/html"})
    server.set_raw("/garbage.rss", b"\x00\x01 this is no feed {", headers={"Content-Type": "text/plain"})
    server.set_json("/api.json", {"jobs": []})
    server.set_raw("/empty.rss", rss_feed([]), headers=RSS)
    untitled = rss_item("QC-9", None, link="https://quoll.example/jobs/9")
    no_identity = rss_item(None, "Orphan Role")
    hostile = [rss_item("QC-8", "Ecologist"), untitled, no_identity, rss_item("QC-10", "Botanist")]
    server.set_raw("/hostile.rss", rss_feed(hostile), headers=RSS)
    server.fail("/down.rss", 500, times=99)
    newest = [rss_item(f"W-{n}", f"Ranger {n}", link=f"https://quoll.example/jobs/w{n}") for n in (3, 2, 1)]
    server.set_raw("/window.rss", rss_feed(newest), headers=RSS)
    names = ["html", "garbage", "api", "empty", "hostile", "down", "window"]
    paths = {"api": "/api.json"}
    entries = [{"name": n, "type": "feed", "url": server.url + paths.get(n, f"/{n}.rss")} for n in names]
    entries[-1]["max_age"] = "14d"

    results = by_name(crawl_sources(resolved(entries, retries=0), workers=crawl_workers))

    def url(name: str) -> str:
        return f"GET {server.url}{paths.get(name, f'/{name}.rss')}"

    assert results["html"].verdict is CrawlVerdict.FAILED
    assert results["html"].reason == f"{url('html')}: response is not a feed (an HTML page)"
    assert results["garbage"].verdict is CrawlVerdict.FAILED
    assert results["garbage"].reason.startswith(f"{url('garbage')}: response is not a feed (")
    assert results["api"].verdict is CrawlVerdict.FAILED
    assert results["api"].reason == (
        f'{url("api")}: response is not a feed (JSON without a jsonfeed.org version: {{"jobs": []}})'
    )
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    assert results["down"].verdict is CrawlVerdict.FAILED
    assert results["down"].reason == f"{url('down')}: HTTP 500"

    hostile_result = results["hostile"]
    assert hostile_result.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in hostile_result.postings) == ["QC-10", "QC-8"]
    assert sorted(hostile_result.stats.errors) == [
        f"{url('hostile')}: posting 'QC-9' skipped: 'title' is missing or blank",
        f"{url('hostile')}: posting (no id) skipped: the item has no guid, id or link",
    ]

    # The feed keeps its newest three items. W-1 scrolls out when W-4 arrives: not a closure.
    first = results["window"]
    assert first.verdict is CrawlVerdict.COMPLETE and first.max_age == timedelta(days=14)
    policy = Policy(close_after_misses=1, max_drop=0.5)
    state = apply_outcome(SourceState("window"), first, diff(SourceState("window"), first, policy))
    arrived = dataclasses.replace(first.postings[0], external_id="W-4", title="Ranger 4")
    shifted = [p for p in first.postings if p.external_id != "W-1"] + [arrived]
    later = first.finished_at + timedelta(days=1)
    second = dataclasses.replace(first, postings=tuple(shifted), started_at=later, finished_at=later)
    outcome = diff(state, second, policy)
    assert outcome.verdict is CrawlVerdict.COMPLETE
    assert [(e.type, e.external_id) for e in outcome.events] == [(EventType.NEW, "W-4")]
    assert outcome.closures == {} and outcome.misses == {}
    state = apply_outcome(state, second, outcome)
    # Fifteen days after it was last seen, W-1 has aged out of the 14-day window.
    much_later = first.finished_at + timedelta(days=15)
    third = dataclasses.replace(second, started_at=much_later, finished_at=much_later)
    closed = diff(state, third, policy)
    assert [(e.type, e.external_id) for e in closed.events] == [(EventType.CLOSED, "W-1")]
