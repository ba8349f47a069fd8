"""A Simplify-style listings.json on a real HTTP server: closure flags, sponsorship, conditional requests."""

from __future__ import annotations

from datetime import UTC, datetime

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, WorkRights
from tests.boardserver import BoardServer
from tests.fixtures.boards import simplify_listing
from tests.integration.crawling import by_name, resolved

LISTINGS = [
    simplify_listing("a1", "TikTok", "Data Scientist Intern", ["Sydney, NSW", "San Jose, CA"]),
    simplify_listing(
        "b2",
        "Koala Analytics",
        "Machine Learning Intern",
        ["New York, NY"],
        "Does Not Offer Sponsorship",
        active=False,
    ),
    simplify_listing("c3", "Bilby", "Data Analyst Intern", ["Remote in USA"], "Other", is_visible=False),
    simplify_listing(
        "d4", "Wombat Defense", "Software Engineer Intern", ["Arlington, VA"], "U.S. Citizenship is Required"
    ),
]
GRADS = [simplify_listing("g1", "TikTok", "Software Engineer, New Grad", ["San Jose, CA"]),
         simplify_listing("g2", "TikTok", "Data Analyst", ["Sydney, NSW"])]  # fmt: skip


def test_listings_are_normalised_closed_by_their_own_flags_and_revalidated(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.set_json("/interns/listings.json", LISTINGS)
    board_server.set_json("/grads/listings.json", GRADS)
    entries = [
        {"name": "interns", "type": "simplify", "url": f"{board_server.url}/interns/listings.json",
         "employment_type": "intern"},
        {"name": "grads", "type": "simplify", "url": f"{board_server.url}/grads/listings.json"},
    ]  # fmt: skip
    sources = resolved(entries)

    results = by_name(crawl_sources(sources, workers=crawl_workers))

    interns = results["interns"]
    assert interns.verdict is CrawlVerdict.COMPLETE, interns.reason
    postings = {p.external_id: p for p in interns.postings}
    tiktok = postings["a1"]
    assert (tiktok.company, tiktok.title, tiktok.employment_type) == (
        "TikTok",
        "Data Scientist Intern",
        "intern",
    )
    assert [(loc.city, loc.country) for loc in tiktok.locations] == [("Sydney", "AU"), ("San Jose", "US")]
    assert tiktok.work_rights == WorkRights("offered", ("Offers Sponsorship",))
    assert tiktok.posted_at == datetime(2026, 8, 20, tzinfo=UTC)
    assert tiktok.url == tiktok.apply_url == "https://careers.tiktok.example/jobs/a1"
    assert not tiktok.closed and tiktok.extra["terms"] == ["Summer 2027"]
    assert postings["b2"].closed and postings["b2"].work_rights == WorkRights(
        "not_offered", ("Does Not Offer Sponsorship",)
    )
    assert postings["c3"].closed and postings["c3"].workplace == "remote"
    assert postings["c3"].work_rights == WorkRights(None, ("Other",))
    assert not postings["d4"].closed and postings["d4"].work_rights == WorkRights(
        "citizens_only", ("U.S. Citizenship is Required",)
    )
    grads = {p.external_id: p.employment_type for p in results["grads"].postings}
    assert grads == {"g1": "graduate", "g2": None}  # no option: the title, else honestly unknown

    (again,) = crawl_sources(sources[:1], validators={"interns": interns.validators}, workers=crawl_workers)
    assert again.verdict is CrawlVerdict.COMPLETE and again.unchanged and again.postings == ()
    last = board_server.requests_to("/interns/listings.json")[-1]
    assert (
        last.status == 304
        and last.headers["if-none-match"] == interns.validators[last_url(board_server)]["etag"]
    )


def last_url(server: BoardServer) -> str:
    return f"{server.url}/interns/listings.json"
