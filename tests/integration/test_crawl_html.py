"""The generic `html` type on a real HTTP server: CSS and XPath fields, next links, zero-match verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlVerdict, Salary
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply
from tests.fixtures.html import HTML, careers_page, opening, roles_table
from tests.integration.crawling import by_name, resolved

#: The Numbat page's fields, CSS and XPath mixed as a user would write them.
NUMBAT_FIELDS: dict[str, Any] = {
    "id": "./@data-job-id",
    "title": "h3 a.title",
    "url": "h3 a.title::attr(href)",
    "locations": ".where::text",
    "department": ".team::text",
    "employment_type": ".type::text",
    "salary": ".pay::text",
    "posted_at": "time.posted::text",
    "deadline": "time.closes::attr(datetime)",
    "description": "div.summary",
    "extra": {"team_note": "normalize-space(.//p[@class='meta'])"},
}


def pages(*bodies: bytes) -> Handler:
    """Serve `?page=N` (1 when absent) from `bodies`; past the last one, a 404."""

    def handler(request: BoardRequest) -> Reply:
        index = int(request.query.get("page", 1))
        if index > len(bodies):
            return Reply(404, b"<html>Not found</html>", HTML)
        return Reply(200, bodies[index - 1], HTML)

    return handler


def html_source(server: BoardServer, name: str, path: str = "/careers", **keys: Any) -> dict[str, Any]:
    return {
        "name": name,
        "type": "html",
        "start_urls": [f"{server.url}{path}"],
        "item": "li.opening",
        "fields": {"id": "./@data-job-id", "title": "a.title", "url": "a.title::attr(href)"},
        "next": "a.next::attr(href)",
        **keys,
    }


def test_a_careers_page_is_read_across_its_pages_into_normalised_postings(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    first = careers_page(
        [
            opening(7, "Data <em>Scientist</em> Intern", places=("Sydney, NSW", "Remote")),
            opening(8, "R&amp;D Engineer,&nbsp;Graduate&nbsp;Program", places=("Melbourne VIC",),
                    kind="Full time", pay="AUD 78,000 - 82,000 / Year", posted="2026-08-01",
                    href="https://apply.numbat.example/r-and-d?utm_medium=email"),
        ],
        next_href="/careers?page=2&utm_source=pager",
    )  # fmt: skip
    second = careers_page(
        [
            opening(
                9, "Barista  Data Analyst", places=("Hobart, Tasmania",), kind="Casual", posted="Posted today"
            )
        ],
        next_href="careers?page=3",  # relative to the page
    )
    third = careers_page([opening(10, "Pastry Data Engineer", kind="Contract")], next_href="#")  # dead link
    board_server.route("/careers", pages(first, second, third))
    board_server.set_raw(
        "/roles",
        roles_table(
            [
                ("/roles/ml-intern?utm_source=x", "Machine Learning Intern", "San Jose, CA", "2026-08-20"),
                ("https://numbat.example/roles/analyst", "Analyst", "London, UK", "2026-08-21"),
            ]
        ),
        headers=HTML,
    )
    numbat = html_source(board_server, "numbat", fields=NUMBAT_FIELDS, company="Numbat Studio",
                         default_currency="AUD")  # fmt: skip
    table = {
        "name": "table",
        "type": "html",
        "start_urls": [f"{board_server.url}/roles"],
        "item": "//table[@id='roles']//tr[td]",
        "fields": {"title": "./td[1]/a", "url": "./td[1]/a/@href", "locations": "./td[2]/text()",
                   "posted_at": "normalize-space(./td[3])"},
    }  # fmt: skip

    began = datetime.now(UTC)
    results = by_name(crawl_sources(resolved([numbat, table]), workers=crawl_workers))

    result = results["numbat"]
    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert [r.query for r in board_server.requests_to("/careers")] == [{}, {"page": "2"}, {"page": "3"}]
    assert (result.stats.pages, result.stats.items) == (3, 4)
    postings = {p.external_id: p for p in result.postings}
    assert set(postings) == {"7", "8", "9", "10"}, "script-written and commented-out openings are not items"

    intern = postings["7"]
    assert intern.title == "Data Scientist Intern", "the element's whole text, nested markup included"
    assert intern.company == "Numbat Studio" and intern.department == "Data & AI"
    assert intern.url == intern.apply_url == f"{board_server.url}/careers/jobs/7"
    assert [(loc.city, loc.country, loc.remote) for loc in intern.locations] == [
        ("Sydney", "AU", False),
        (None, None, True),
    ]
    assert intern.employment_type == "intern"
    assert intern.salary == Salary(30, 35, "AUD", "hour", "$30 - $35 an hour")
    assert intern.posted_at is not None
    assert began - timedelta(days=3, minutes=5) <= intern.posted_at <= datetime.now(UTC) - timedelta(days=3)
    assert intern.deadline == datetime(2026, 9, 30, tzinfo=UTC)
    assert "<b>better bread</b> &amp; fewer leftovers" in intern.description_html
    assert "<li>Forecast demand</li>" in intern.description_html
    for hostile in ("<script", "track(", "onclick", "onerror", "<img"):
        assert hostile not in intern.description_html, hostile
    assert "track(" not in intern.description_text and "fewer leftovers" in intern.description_text
    assert intern.extra == {"team_note": "Sydney, NSW / Remote · Data & AI · Internship"}

    graduate = postings["8"]
    assert graduate.title == "R&D Engineer, Graduate Program" and graduate.employment_type == "graduate"
    assert graduate.url == "https://apply.numbat.example/r-and-d"
    assert graduate.salary == Salary(78000, 82000, "AUD", "year", "AUD 78,000 - 82,000 / Year")
    assert graduate.posted_at == datetime(2026, 8, 1, tzinfo=UTC)
    assert graduate.locations[0].region == "VIC"
    assert postings["9"].title == "Barista Data Analyst" and postings["9"].employment_type == "part_time"
    assert postings["9"].locations[0].country == "AU"
    assert postings["10"].employment_type == "contract"

    rows = results["table"]
    assert rows.verdict is CrawlVerdict.COMPLETE, rows.reason
    by_url = {p.external_id: p for p in rows.postings}
    ml_url = f"{board_server.url}/roles/ml-intern"
    assert set(by_url) == {ml_url, "https://numbat.example/roles/analyst"}, "no id: the canonical URL"
    ml = by_url[ml_url]
    assert ml.title == "Machine Learning Intern" and ml.url == ml_url and ml.employment_type == "intern"
    assert (ml.locations[0].city, ml.locations[0].country) == ("San Jose", "US")
    assert ml.posted_at == datetime(2026, 8, 20, tzinfo=UTC)


def test_a_selector_that_matches_nothing_fails_and_each_fault_gets_its_own_verdict(
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    server = board_server
    redesigned = b"<html><body><div class='jobs-grid'><article>Data Analyst</article></div></body></html>"
    server.set_raw("/redesigned", redesigned, headers=HTML)
    good = careers_page(
        [opening(1, "Data Analyst"), opening(2, "Data Scientist")], next_href="/second?page=2"
    )
    server.route("/second", pages(good, careers_page([], empty_note=True)))
    server.set_raw("/quiet", careers_page([], empty_note=True), headers=HTML)
    server.route("/capped", pages(*[careers_page([opening(n, f"Analyst {n}")], f"/capped?page={n + 1}")
                                    for n in range(1, 4)]))  # fmt: skip
    server.fail("/broken", 500, times=99)
    hostile = careers_page(
        [
            opening(1, "Data Analyst"),
            opening(2, "   ", summary="<p>an opening whose title is blank</p>"),
            opening(None, "Data Engineer", href=""),  # neither an id nor a link
            opening(4, "Data Scientist"),
        ]
    )
    server.set_raw("/hostile", hostile, headers=HTML)
    server.set_raw(
        "/json", b'{"jobs": [{"title": "Data Analyst"}]}', headers={"Content-Type": "application/json"}
    )
    server.set_raw("/binary", b"\x89PNG\r\n\x1a\n\x00\x00", headers={"Content-Type": "image/png"})
    entries = [
        html_source(server, "redesigned", "/redesigned"),
        html_source(server, "second", "/second"),
        html_source(server, "quiet", "/quiet", allow_empty=True),
        html_source(server, "capped", "/capped", max_pages=2),
        html_source(server, "broken", "/broken"),
        html_source(server, "hostile", "/hostile"),
        html_source(server, "json", "/json"),
        html_source(server, "binary", "/binary"),
    ]

    results = by_name(crawl_sources(resolved(entries, retries=0), workers=crawl_workers))

    def label(path: str) -> str:
        return f"GET {server.url}{path}"

    redesign = results["redesigned"]
    assert redesign.verdict is CrawlVerdict.FAILED, "a selector matching nothing is never 'all closed'"
    assert redesign.reason == (
        f"{label('/redesigned')}: `item` ('li.opening') matched nothing on this page: not the careers"
        " list, or the page changed (set allow_empty: true for a board that can be empty)"
    )
    second = results["second"]
    assert second.verdict is CrawlVerdict.PARTIAL and len(second.postings) == 2
    assert second.reason.startswith(
        f"{label('/second?page=2')}: `item` ('li.opening') matched nothing on page 2"
    )

    quiet = results["quiet"]
    assert quiet.verdict is CrawlVerdict.COMPLETE and quiet.postings == () and quiet.reason == ""

    capped = results["capped"]
    assert capped.verdict is CrawlVerdict.PARTIAL and len(capped.postings) == 2
    assert capped.reason == (
        f"{label('/capped?page=2')}: listing truncated: stopped after max_pages=2; the list goes on"
    )
    assert len(server.requests_to("/capped")) == 2

    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{label('/broken')}: HTTP 500"

    kept = results["hostile"]
    assert kept.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in kept.postings) == ["1", "4"]
    assert kept.stats.errors == (
        f"{label('/hostile')}: posting '2' skipped: `fields.title` ('a.title') matched nothing in this item",
        f"{label('/hostile')}: posting (no id) skipped: no `id` and no usable `url` in this item: "
        "it cannot be told apart",
    )

    assert results["json"].verdict is CrawlVerdict.FAILED
    assert results["json"].reason == f"{label('/json')}: response is not HTML (application/json)"
    assert results["binary"].verdict is CrawlVerdict.FAILED
    assert results["binary"].reason == f"{label('/binary')}: response is not HTML (image/png)"
