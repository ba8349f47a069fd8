"""Greenhouse against a real HTTP server: normalised postings, conditional requests, each fault's verdict."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.domain import CrawlResult, CrawlVerdict, Location, Salary
from tests.boardserver import BoardServer, Reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.integration.crawling import by_name, resolved, with_limits

BOARD = "/v1/boards/koala/jobs"


def koala_jobs(updated_at: str = "2026-07-29T08:50:01-04:00") -> list[dict[str, object]]:
    return [
        greenhouse_job(4001001, "Data Scientist Intern", "Sydney, NSW", updated_at=updated_at),
        greenhouse_job(
            4001002,
            "  Machine Learning Engineer,\u00a0Graduate 2027 ",
            "San Jose, CA",
            content_html="<p>We offer visa sponsorship.</p><p>Pay: $120K–$150K per year</p>",
            metadata=None,
            departments=[],
            updated_at=updated_at,
        ),
        greenhouse_job(
            4001003,
            "Senior Data Engineer",
            "Remote (United States)",
            metadata=[{"id": 5, "name": "Commitment", "value": "Contract", "value_type": "single_select"}],
            application_deadline="2026-12-01T23:59:00Z",
            updated_at=updated_at,
        ),
    ]


def koala_source(server: BoardServer) -> dict[str, object]:
    return {"name": "koala", "type": "greenhouse", "board": "koala", "base_url": server.url}


def test_a_board_is_read_into_normalised_postings(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.set_json(BOARD, greenhouse_board(koala_jobs()))

    (result,) = crawl_sources(resolved([koala_source(board_server)]), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.COMPLETE, result.reason
    assert (result.reason, result.unchanged) == ("", False)
    intern, graduate, contractor = sorted(result.postings, key=lambda p: p.external_id)
    assert intern.source == "koala" and intern.external_id == "4001001"
    assert intern.title == "Data Scientist Intern"
    assert intern.company == "Koala Analytics" and intern.department == "Data Science"
    assert intern.locations == (Location("Sydney, NSW", city="Sydney", region="NSW", country="AU"),)
    assert intern.employment_type == "intern"  # the title beats the board's "Regular"
    assert intern.salary == Salary(78000, 82000, "AUD", "year", "AUD 78,000 - 82,000 / Year")
    assert intern.work_rights is not None and intern.work_rights.sponsorship == "not_offered"
    assert intern.posted_at == datetime(2026, 7, 16, 15, 55, 32, tzinfo=UTC)
    assert intern.url == intern.apply_url == "https://job-boards.greenhouse.io/koala/jobs/4001001"
    # `content` is unescaped exactly once: real markup, and the author's own "&amp;" stays "&".
    assert "<ul><li>Build features in Python and SQL</li>" in intern.description_html
    assert "&lt;" not in intern.description_html
    assert "12 weeks & ship models" in intern.description_text
    assert set(intern.extra) == {"updated_at", "internal_job_id", "requisition_id", "metadata"}

    assert graduate.title == "Machine Learning Engineer, Graduate 2027"
    assert graduate.employment_type == "graduate" and graduate.department is None
    assert graduate.locations[0].country == "US"
    assert graduate.salary == Salary(120000, 150000, "USD", "year", "$120K–$150K per year")
    assert graduate.work_rights is not None and graduate.work_rights.sponsorship == "offered"

    assert contractor.employment_type == "contract"  # from the "Commitment" custom field
    assert contractor.workplace == "remote"
    assert contractor.deadline == datetime(2026, 12, 1, 23, 59, tzinfo=UTC)

    assert (result.stats.requests, result.stats.pages, result.stats.items, result.stats.errors) == (
        1,
        1,
        3,
        (),
    )
    assert result.stats.bytes > 1000 and result.stats.duration_s > 0
    assert result.started_at.tzinfo is UTC and result.finished_at >= result.started_at
    (listing,) = board_server.requests_to(BOARD)
    assert listing.query == {"content": "true"}
    assert listing.headers["user-agent"].startswith("rolewatch/")
    assert listing.headers["accept"] == "application/json"
    assert board_server.requests_to("/robots.txt"), "robots.txt is obeyed by default"


def test_an_unchanged_board_answers_304_and_an_updated_at_bump_keeps_fingerprints(
    board_server: BoardServer,
    crawl_workers: CrawlWorkers,
) -> None:
    """Three crawls from one test process: no reactor restart problem, one child per crawl."""
    board_server.set_json(BOARD, greenhouse_board(koala_jobs()))
    sources = resolved([koala_source(board_server)])

    (first,) = crawl_sources(sources, workers=crawl_workers)
    (url,) = first.validators
    assert url.endswith("/v1/boards/koala/jobs?content=true")
    assert set(first.validators[url]) == {"etag", "last_modified"}

    (second,) = crawl_sources(sources, validators={"koala": first.validators}, workers=crawl_workers)
    assert second.verdict is CrawlVerdict.COMPLETE and second.unchanged
    assert second.postings == () and second.stats.not_modified == 1
    assert second.validators == first.validators
    sent = board_server.requests_to(BOARD)[-1]
    assert sent.headers["if-none-match"] == first.validators[url]["etag"]
    assert sent.headers["if-modified-since"] == first.validators[url]["last_modified"]
    assert sent.status == 304

    # Greenhouse bulk-bumps updated_at: a new body (so a 200), but no posting really changed.
    board_server.set_json(BOARD, greenhouse_board(koala_jobs(updated_at="2026-08-02T10:00:00-04:00")))
    (third,) = crawl_sources(sources, validators={"koala": first.validators}, workers=crawl_workers)
    assert third.verdict is CrawlVerdict.COMPLETE and not third.unchanged
    assert board_server.requests_to(BOARD)[-1].status == 200
    assert third.validators[url]["etag"] != first.validators[url]["etag"]
    fingerprints = {p.external_id: p.fingerprint for p in first.postings}
    assert {p.external_id: p.fingerprint for p in third.postings} == fingerprints
    assert {p.extra["updated_at"] for p in third.postings} == {"2026-08-02T10:00:00-04:00"}


def test_a_listing_of_several_megabytes_is_read_whole_across_socket_reads(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    """The worker reads up to a MiB at a time (`crawler.child.READ_CHUNK`): a body of a few of them,
    with and without a Content-Length, arrives whole, every posting and the last one intact."""
    paragraph = "<p>" + "Build data pipelines with Python and SQL for our analysts. " * 20 + "</p>"
    jobs = [greenhouse_job(7000 + n, f"Data Engineer {n}", content_html=paragraph * 3) for n in range(900)]
    body = json.dumps(greenhouse_board(jobs)).encode()
    assert len(body) > 3 * 2**20
    board_server.set_raw("/v1/boards/big/jobs", body, headers={"Content-Type": "application/json"})
    unsized = Reply(200, body, {"Content-Type": "application/json"}, close_delimited=True)
    board_server.route("/v1/boards/streamed/jobs", lambda _request: unsized)
    entries = [
        {"name": name, "type": "greenhouse", "board": name, "base_url": board_server.url}
        for name in ("big", "streamed")
    ]
    results = by_name(crawl_sources(resolved(entries), workers=crawl_workers))
    for name in ("big", "streamed"):
        result = results[name]
        assert result.verdict is CrawlVerdict.COMPLETE, result.reason
        assert [p.title for p in result.postings] == [f"Data Engineer {n}" for n in range(900)]
        assert result.stats.bytes >= len(body)
        last = max(result.postings, key=lambda p: p.external_id)
        assert last.description_text.endswith("for our analysts.")


def test_each_fault_gets_its_own_verdict_and_message(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    """Many sources of one type, one host, one crawl: each fault stays with its own source."""
    server = board_server
    server.set_json("/v1/boards/fine/jobs", greenhouse_board(koala_jobs()))
    server.fail("/v1/boards/broken/jobs", 500, times=99)
    server.set_json("/v1/boards/busy/jobs", greenhouse_board(koala_jobs()[:1]))
    server.fail("/v1/boards/busy/jobs", 429, times=2, headers={"Retry-After": "1"})
    server.fail("/v1/boards/closed/jobs", 503, times=99, headers={"Retry-After": "3600"})
    server.hang("/v1/boards/slow/jobs", 30)
    server.hang("/v1/boards/stuck/jobs", 30)
    maintenance = b"<html><body><h1>We'll be back soon</h1></body></html>"
    server.set_raw("/v1/boards/maintenance/jobs", maintenance, headers={"Content-Type": "text/html"})
    whole = json.dumps(greenhouse_board(koala_jobs())).encode()
    server.set_raw(
        "/v1/boards/cut/jobs", whole[: len(whole) // 2], headers={"Content-Type": "application/json"}
    )
    server.set_json("/v1/boards/empty/jobs", greenhouse_board([]))
    server.set_json("/v1/boards/private/jobs", {"error": "board is private"})
    big = [greenhouse_job(5000 + n, f"Analyst {n}") for n in range(40)]
    server.set_json("/v1/boards/huge/jobs", greenhouse_board(big))
    broken_job = greenhouse_job(6002, "Data Engineer")
    del broken_job["title"]
    jobs = [greenhouse_job(6001, "Data Analyst Intern"), broken_job, greenhouse_job(6003, "Data Scientist")]
    server.set_json("/v1/boards/onebad/jobs", greenhouse_board(jobs))
    server.set_json("/v1/boards/hidden/jobs", greenhouse_board(koala_jobs()))
    server.set_robots("User-agent: *\nDisallow: /v1/boards/hidden/\n")
    names = ["fine", "broken", "busy", "slow", "maintenance", "cut", "missing", "empty", "private", "huge"]
    names += ["onebad", "hidden", "stuck", "closed"]
    entries = [{"name": n, "type": "greenhouse", "board": n, "base_url": server.url} for n in names]
    sources = resolved(entries, retries=2, request_timeout="1s")
    sources[names.index("huge")] = with_limits(sources[names.index("huge")], max_response_size=32 * 1024)
    stuck = names.index("stuck")
    sources[stuck] = with_limits(
        sources[stuck], timeout_s=2, request_timeout=timedelta(seconds=30), retries=0
    )

    began = time.monotonic()
    results = by_name(crawl_sources(sources, workers=crawl_workers))
    elapsed = time.monotonic() - began

    def url(board: str) -> str:
        return f"GET {server.url}/v1/boards/{board}/jobs?content=true"

    assert results["fine"].verdict is CrawlVerdict.COMPLETE and len(results["fine"].postings) == 3

    assert results["broken"].verdict is CrawlVerdict.FAILED
    assert results["broken"].reason == f"{url('broken')}: HTTP 500 after 2 retries"
    assert len(server.requests_to("/v1/boards/broken/jobs")) == 3

    busy = results["busy"]
    assert busy.verdict is CrawlVerdict.COMPLETE and len(busy.postings) == 1, busy.reason
    assert busy.stats.retries == 2 and busy.stats.requests == 3
    first, second, third = (r.received_at for r in server.requests_to("/v1/boards/busy/jobs"))
    assert second - first >= 0.95 and third - second >= 0.95, "Retry-After: 1 was not honoured"

    assert results["closed"].verdict is CrawlVerdict.FAILED
    assert results["closed"].reason == f"{url('closed')}: HTTP 503 (Retry-After 3600s is over the 120s limit)"
    assert len(server.requests_to("/v1/boards/closed/jobs")) == 1, "a wait that long is not taken at all"

    assert results["slow"].verdict is CrawlVerdict.FAILED
    assert results["slow"].reason == f"{url('slow')}: timed out after 1s after 2 retries"

    assert results["maintenance"].verdict is CrawlVerdict.FAILED
    assert results["maintenance"].reason == (
        f"{url('maintenance')}: response is not JSON (text/html: a maintenance or error page?)"
    )
    assert results["cut"].verdict is CrawlVerdict.FAILED
    assert results["cut"].reason.startswith(f"{url('cut')}: response is not JSON (")
    assert results["cut"].reason.endswith("; truncated?)")

    assert results["missing"].verdict is CrawlVerdict.FAILED, "a 404 crawl 'finishes' but is not complete"
    assert results["missing"].reason == f"{url('missing')}: HTTP 404"

    assert results["empty"].verdict is CrawlVerdict.COMPLETE and results["empty"].postings == ()

    assert results["private"].verdict is CrawlVerdict.FAILED
    assert results["private"].reason == f'{url("private")}: JSON has no "jobs" list (got an object: ' + (
        '{"error": "board is private"})'
    )
    assert results["huge"].verdict is CrawlVerdict.FAILED
    assert results["huge"].reason == f"{url('huge')}: response larger than the 32 KiB limit"

    onebad = results["onebad"]
    assert onebad.verdict is CrawlVerdict.PARTIAL
    assert sorted(p.external_id for p in onebad.postings) == ["6001", "6003"]
    assert onebad.reason == f"{url('onebad')}: posting 6002 skipped: 'title' is missing or blank"
    assert onebad.validators == {}, "a page that did not parse cleanly must not vouch for its validators"

    assert results["hidden"].verdict is CrawlVerdict.FAILED
    assert results["hidden"].reason == f"{url('hidden')}: forbidden by robots.txt"
    assert not server.requests_to("/v1/boards/hidden/jobs")

    assert results["stuck"].verdict is CrawlVerdict.FAILED
    assert results["stuck"].reason == "timed out after 2s with 1 request(s) unfinished"
    assert elapsed < 15, f"the faults took {elapsed:.1f}s"


def test_a_warm_worker_sights_a_page_it_read_before_and_reads_what_changed_or_is_not_stored(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    """From a source's third crawl in a worker, a page whose body is byte for byte the last one is
    sighted from the digests kept for it (`crawler.digests.PAGES`): each crawl must still give what
    reading the page would. A record whose posting is not stored open is normalised again, and a
    changed body is read as usual."""
    jobs = [greenhouse_job(8000 + n, f"Data Analyst {n}") for n in range(30)]
    board_server.set_json("/v1/boards/wallaby/jobs", greenhouse_board(jobs))
    (source,) = resolved(
        [{"name": "wallaby", "type": "greenhouse", "board": "wallaby", "base_url": board_server.url}]
    )
    (first,) = crawl_sources([source], workers=crawl_workers)
    stored = {posting.external_id: posting.raw_digest for posting in first.postings}
    assert len(stored) == 30

    def crawl(known: dict[str, str]) -> CrawlResult:
        (result,) = crawl_sources([source], known={"wallaby": known}, workers=crawl_workers)
        assert result.verdict is CrawlVerdict.COMPLETE, result.reason
        return result

    for _ in range(3):  # the second crawl keeps the page's digests, the later ones use them
        again = crawl(stored)
        assert again.postings == () and sorted(again.sightings) == sorted(stored)
    closed = dict(stored)
    del closed["8007"]  # as if that posting were closed: its record must be read again
    reread = crawl(closed)
    assert [posting.external_id for posting in reread.postings] == ["8007"]
    assert sorted(reread.sightings) == sorted(closed)
    assert reread.postings[0] == next(p for p in first.postings if p.external_id == "8007")
    jobs[3] = greenhouse_job(8003, "Senior Data Analyst")
    board_server.set_json("/v1/boards/wallaby/jobs", greenhouse_board(jobs))
    changed = crawl(stored)
    assert [(p.external_id, p.title) for p in changed.postings] == [("8003", "Senior Data Analyst")]
    assert sorted(changed.sightings) == sorted(set(stored) - {"8003"})
    assert crawl(stored).postings[0].title == "Senior Data Analyst"  # the new body's digests kept
