"""Recruitee against a real HTTP server: normalised offers, status and close_at closures, faults."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Location, Salary
from tests.boardserver import BoardServer
from tests.fixtures.recruitee import recruitee_location, recruitee_offer, recruitee_offers
from tests.integration.crawling import by_name, resolved

OFFERS = "/api/offers/"


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def quokka_offers(now: datetime, position_shift: int = 0) -> list[dict[str, object]]:
    soon, past = now + timedelta(days=30), now - timedelta(days=2)
    san_jose = recruitee_location("San Jose", "California", "United States", "US", state_code="CA")
    austin = recruitee_location("Austin", "Texas", "United States", "US", state_code="TX")
    berlin = recruitee_location("Berlin", "Berlin", "Germany", "DE", name="Germany/Remote", state_code="BE")
    offers = [
        recruitee_offer(
            1001,
            "Data Science Intern",
            hybrid=True,
            on_site=False,
            employment_type_code="internship",
            salary={"min": "32.50", "max": "36", "currency": "AUD", "period": "hour"},
            close_at=stamp(soon),
        ),
        recruitee_offer(
            1002,
            "Graduate Software Engineer",
            locations=[san_jose, austin],
            remote=True,
            on_site=False,
            salary="$120K–$140K per year",
        ),
        recruitee_offer(
            1003,
            "Depot Analyst",
            locations=[berlin],
            hybrid=True,
            employment_type_code="fulltime_fixed_term",
            salary={"min": None, "max": None, "currency": "EUR", "period": "year"},
        ),
        recruitee_offer(1004, "Warehouse Planner", status="closed"),
        recruitee_offer(1005, "Operations Coordinator", close_at=stamp(past)),
        recruitee_offer(1006, "Draft Role", status="draft"),
        recruitee_offer(
            1007,
            "Customer Advisor",
            locations=[],
            location="Auckland, New Zealand",
            employment_type_code="parttime_permanent",
        ),
    ]
    for offer in offers:
        offer["position"] = int(str(offer["id"])) % 100 + position_shift
    return offers


def quokka(server: BoardServer) -> dict[str, object]:
    return {"name": "quokka", "type": "recruitee", "company": "quokka", "base_url": server.url}


def test_offers_are_normalised_and_closed_by_status_or_a_past_close_at(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    board_server.set_json(OFFERS, recruitee_offers(quokka_offers(now)))

    (result,) = crawl_sources(resolved([quokka(board_server)]), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    postings = {p.external_id: p for p in result.postings}
    assert sorted(postings) == ["1001", "1002", "1003", "1004", "1005", "1007"], "a draft is not a posting"
    assert (result.stats.requests, result.stats.pages, result.stats.items) == (1, 1, 6)
    (listing,) = board_server.requests_to(OFFERS)
    assert listing.query == {} and listing.headers["accept"] == "application/json"

    intern = postings["1001"]
    assert (intern.title, intern.company, intern.department) == (
        "Data Science Intern",
        "Quokka Freight",
        "Data & Analytics",
    )
    assert intern.locations == (Location("Sydney, New South Wales, Australia", "Sydney", "NSW", "AU"),)
    assert (intern.workplace, intern.employment_type) == ("hybrid", "intern")
    assert intern.salary == Salary(32.5, 36, "AUD", "hour")
    assert intern.posted_at == datetime(2026, 10, 28, 3, 30, tzinfo=UTC)
    assert intern.deadline == now + timedelta(days=30) and not intern.closed
    assert intern.url == "https://quokka.recruitee.com/o/data-science-intern"
    assert intern.apply_url == "https://quokka.recruitee.com/o/data-science-intern/c/new"
    # description and requirements together, sanitised
    assert "<li><p>Forecast parcel volumes</p></li>" in intern.description_html
    assert "script" not in intern.description_html and "track(" not in intern.description_text
    assert "onclick" not in intern.description_html and "style=" not in intern.description_html
    assert (
        "Australia & New Zealand" in intern.description_text and "Python and SQL" in intern.description_text
    )
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "not_offered"
    assert intern.extra["employment_type_code"] == "internship" and intern.extra["status"] == "published"
    assert "position" not in intern.extra

    graduate = postings["1002"]
    assert graduate.employment_type == "graduate"  # the title beats "fulltime_permanent"
    assert graduate.workplace == "remote"
    assert [(p.city, p.region, p.country, p.remote) for p in graduate.locations] == [
        ("San Jose", "CA", "US", True),
        ("Austin", "TX", "US", True),
    ]
    assert graduate.salary == Salary(120000, 140000, "USD", "year", "$120K–$140K per year")

    analyst = postings["1003"]
    assert analyst.employment_type == "temporary"  # fulltime_fixed_term
    assert analyst.workplace == "hybrid" and analyst.salary is None  # no amounts, none in the text
    assert [(p.city, p.country, p.remote) for p in analyst.locations] == [("Berlin", "DE", True)]

    assert postings["1004"].closed, "status closed is the board closing the offer"
    gone = postings["1005"]
    assert gone.closed and gone.deadline == now - timedelta(days=2)

    advisor = postings["1007"]
    assert advisor.employment_type == "part_time" and advisor.workplace == "onsite"
    assert [(p.city, p.country) for p in advisor.locations] == [("Auckland", "NZ")]


def test_an_unchanged_list_answers_304_and_a_reordering_is_only_sightings(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    board_server.set_json(OFFERS, recruitee_offers(quokka_offers(now)))
    sources = resolved([quokka(board_server)])

    (first,) = crawl_sources(sources, workers=crawl_workers)
    (second,) = crawl_sources(sources, validators={"quokka": first.validators}, workers=crawl_workers)
    assert second.verdict is CrawlVerdict.COMPLETE and second.unchanged
    assert board_server.requests_to(OFFERS)[-1].status == 304

    # The careers page was reordered (every `position` moved) and one offer was edited.
    reordered = quokka_offers(now, position_shift=50)
    reordered[0]["updated_at"] = "2026-11-20 10:00:00 UTC"
    board_server.set_json(OFFERS, recruitee_offers(reordered))
    known = {"quokka": {p.external_id: p.raw_digest for p in first.postings}}
    (third,) = crawl_sources(
        sources, validators={"quokka": first.validators}, known=known, workers=crawl_workers
    )

    assert third.verdict is CrawlVerdict.COMPLETE and not third.unchanged
    assert [p.external_id for p in third.postings] == ["1001"], "updated_at is a real edit, not noise"
    assert (
        third.postings[0].fingerprint
        == next(p for p in first.postings if p.external_id == "1001").fingerprint
    )
    assert sorted(third.sightings) == ["1002", "1003", "1004", "1005", "1007"]


def test_each_fault_gets_its_own_verdict(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    server = board_server
    now = datetime.now(UTC)
    server.set_json("/fine/api/offers/", recruitee_offers(quokka_offers(now)[:2]))
    server.set_raw(
        "/maintenance/api/offers/",
        b"<!DOCTYPE html><html><body>Careers site is under maintenance</body></html>",
        headers={"Content-Type": "text/html; charset=utf-8"},
    )
    server.set_json("/other/api/offers/", {"offer": {"id": 1, "title": "One offer, not the list"}})
    server.fail("/broken/api/offers/", 500, times=99)
    whole = json.dumps(recruitee_offers(quokka_offers(now))).encode()
    server.set_raw("/cut/api/offers/", whole[: len(whole) // 2], headers={"Content-Type": "application/json"})
    server.set_json("/empty/api/offers/", recruitee_offers([]))
    nameless = recruitee_offer(2002, "Anything")
    del nameless["title"]
    onebad = [recruitee_offer(2001, "Data Engineer"), nameless, recruitee_offer(2003, "Data Analyst")]
    server.set_json("/onebad/api/offers/", recruitee_offers(onebad))
    names = ["fine", "maintenance", "other", "broken", "cut", "empty", "onebad", "missing"]
    entries = [{"name": n, "type": "recruitee", "company": n, "base_url": f"{server.url}/{n}"} for n in names]

    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))

    def url(name: str) -> str:
        return f"GET {server.url}/{name}/api/offers/"

    assert results["fine"].verdict is CrawlVerdict.COMPLETE and len(results["fine"].postings) == 2
    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert results["maintenance"].reason == (
        f"{url('maintenance')}: response is not JSON (text/html: a maintenance or error page?)"
    )
    assert results["other"].verdict is CrawlVerdict.FAILED
    assert results["other"].reason.startswith(f'{url("other")}: JSON has no "offers" list (got an object:')
    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{url('broken')}: HTTP 500 after 1 retry"
    assert len(server.requests_to("/broken/api/offers/")) == 2
    assert results["cut"].verdict is CrawlVerdict.FAILED and results["cut"].reason.endswith("; truncated?)")
    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()
    assert results["missing"].verdict is CrawlVerdict.FAILED
    assert results["missing"].reason == f"{url('missing')}: HTTP 404"

    onebad_result = results["onebad"]
    assert onebad_result.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in onebad_result.postings) == ["2001", "2003"]
    assert onebad_result.reason == f"{url('onebad')}: posting 2002 skipped: 'title' is missing or blank"
