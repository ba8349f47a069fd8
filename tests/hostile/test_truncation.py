"""A listing cut off in transfer is partial: what arrived is kept, and the postings it lost never close.

The hostile board ends its body by closing the connection (no Content-Length), or declares more
bytes than it sends, and cuts the listing in the middle. HTTP alone cannot tell the first from a
whole body and lenient parsers repair both, so before the fix the cut listing was judged complete
and two such crawls closed every posting past the cut.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Engine

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.config import ResolvedSource
from rolewatch.domain import CrawlResult, CrawlVerdict, EventType
from storage.recording import record_crawl
from tests.boardserver import BoardRequest, BoardServer, Handler, Reply, json_reply
from tests.fixtures.boards import lever_postings
from tests.fixtures.feed import RSS, atom_entry, atom_feed, rss_feed, rss_item
from tests.fixtures.html import HTML, careers_page, opening
from tests.fixtures.jsonld import XML, job_posting, page, sitemap
from tests.integration.crawling import resolved

WHOLE = careers_page([opening(n, f"Data Analyst {n}") for n in range(1, 11)])
#: Cut inside the sixth opening: five whole openings, a broken one, and no </body></html>.
CUT = WHOLE[: WHOLE.index(b'data-job-id="6"') + 40]
CUT_OFF = "the page ends before its </body> and </html>"
CONNECTION_CUT = "the connection closed before the whole response arrived"


def html_source(server: BoardServer, path: str = "/careers") -> dict[str, Any]:
    return {
        "name": "numbat",
        "type": "html",
        "start_urls": [f"{server.url}{path}"],
        "item": "li.opening",
        "fields": {"id": "./@data-job-id", "title": "a.title", "url": "a.title::attr(href)"},
    }


def crawl(source: ResolvedSource, workers: CrawlWorkers) -> CrawlResult:
    (result,) = crawl_sources([source], workers=workers)
    return result


def closed(engine: Engine, source: ResolvedSource, result: CrawlResult) -> list[str]:
    record = record_crawl(engine, source, result)
    return [e.external_id for e in record.events if e.type in (EventType.CLOSED, EventType.REOPENED)]


def serve(server: BoardServer, body: bytes, **framing: Any) -> None:
    server.route("/careers", lambda _request: Reply(200, body, HTML, **framing))


def test_a_close_delimited_listing_cut_mid_list_is_partial_and_closes_nothing(
    engine: Engine, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    (source,) = resolved([html_source(board_server)], retries=0)
    serve(board_server, WHOLE, close_delimited=True)
    whole = crawl(source, crawl_workers)
    assert whole.verdict is CrawlVerdict.COMPLETE and len(whole.postings) == 10, whole.reason
    record_crawl(engine, source, whole)

    serve(board_server, CUT, close_delimited=True)
    for _ in range(2):  # close_after_misses is 2: two complete crawls would close 6-10
        cut = crawl(source, crawl_workers)
        assert cut.verdict is CrawlVerdict.PARTIAL
        assert sorted(int(p.external_id) for p in cut.postings) == [1, 2, 3, 4, 5]
        assert CUT_OFF in cut.reason and cut.reason.startswith(f"GET {board_server.url}/careers: ")
        assert closed(engine, source, cut) == []

    serve(board_server, WHOLE, close_delimited=True)
    assert closed(engine, source, crawl(source, crawl_workers)) == [], "nothing closed, so nothing reopens"


def test_a_body_shorter_than_its_content_length_is_retried_then_kept_as_partial(
    engine: Engine, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    (source,) = resolved([html_source(board_server)], retries=1)
    serve(board_server, WHOLE)
    record_crawl(engine, source, crawl(source, crawl_workers))

    # What arrived is a whole page, so only the transfer itself says it lost data.
    serve(board_server, WHOLE, declared_length=len(WHOLE) + 500)
    for _ in range(2):
        board_server.clear_log()
        short = crawl(source, crawl_workers)
        assert len(board_server.requests_to("/careers")) == 2, "a cut body is retried first"
        assert short.verdict is CrawlVerdict.PARTIAL and len(short.postings) == 10
        assert short.reason == (
            f"GET {board_server.url}/careers: {CONNECTION_CUT}; the {len(WHOLE):,} bytes that did were read"
        )
        assert closed(engine, source, short) == []

    # Cut mid-list as well: the five whole openings are kept, the rest stay open.
    serve(board_server, CUT, declared_length=len(WHOLE))
    short = crawl(source, crawl_workers)
    assert short.verdict is CrawlVerdict.PARTIAL and len(short.postings) == 5
    assert short.stats.errors[0].endswith(f"{CONNECTION_CUT}; the {len(CUT):,} bytes that did were read")
    assert any(CUT_OFF in error for error in short.stats.errors[1:])
    assert closed(engine, source, short) == []


def test_a_cut_that_a_retry_mends_is_complete(board_server: BoardServer, crawl_workers: CrawlWorkers) -> None:
    attempts = []

    def cut_once(request: BoardRequest) -> Reply:
        attempts.append(request)
        if len(attempts) == 1:
            return Reply(200, CUT, HTML, declared_length=len(WHOLE))
        return Reply(200, WHOLE, HTML)

    board_server.route("/careers", cut_once)
    (source,) = resolved([html_source(board_server)], retries=1)
    result = crawl(source, crawl_workers)
    assert result.verdict is CrawlVerdict.COMPLETE and len(result.postings) == 10, result.reason
    assert len(attempts) == 2


def test_feeds_cut_before_their_end_tag_are_partial(
    board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    rss = rss_feed([rss_item(f"quoll-{n}", f"Ranger {n}") for n in range(1, 5)])
    cut_rss = rss[: rss.index(b"<item>", rss.index(b"</item>") + 1)]  # between two whole items
    entries = [atom_entry(f"urn:quoll:{n}", f"Ranger {n}", href=f"https://q.example/{n}") for n in (1, 2, 3)]
    atom = atom_feed(entries)
    cut_atom = atom[: atom.index(b"<entry>", atom.index(b"</entry>") + 1)]
    board_server.route("/rss", lambda _r: Reply(200, cut_rss, RSS, close_delimited=True))
    board_server.route("/atom", lambda _r: Reply(200, cut_atom, {"Content-Type": "application/atom+xml"},
                                                 close_delimited=True))  # fmt: skip
    board_server.route("/whole", lambda _r: Reply(200, rss, RSS, close_delimited=True))
    sources = resolved(
        [
            {"name": name, "type": "feed", "url": f"{board_server.url}/{name}"}
            for name in ("rss", "atom", "whole")
        ],
        retries=0,
    )
    results = {result.source: result for result in crawl_sources(sources, workers=crawl_workers)}

    assert results["whole"].verdict is CrawlVerdict.COMPLETE and len(results["whole"].postings) == 4
    rss_result = results["rss"]
    assert rss_result.verdict is CrawlVerdict.PARTIAL
    assert [p.external_id for p in rss_result.postings] == ["quoll-1"]
    assert rss_result.reason == (
        f"GET {board_server.url}/rss: listing truncated: the document ends before its </rss> "
        f"({len(cut_rss):,} bytes arrived): cut off in transfer?"
    )
    atom_result = results["atom"]
    assert atom_result.verdict is CrawlVerdict.PARTIAL and len(atom_result.postings) == 1
    assert "the document ends before its </feed>" in atom_result.reason


def jsonld_source(server: BoardServer, **keys: Any) -> dict[str, Any]:
    return {"name": "wombat", "type": "jsonld", "base_url": server.url, **keys}


def serve_details(server: BoardServer, count: int) -> list[str]:
    urls = [f"{server.url}/jobs/{n}" for n in range(1, count + 1)]
    for n in range(1, count + 1):
        posting = job_posting(f"Field Ecologist {n}", identifier=f"WE-{n}")
        server.set_raw(f"/jobs/{n}", page(posting), headers=HTML)
    return urls


def test_a_sitemap_cut_mid_list_keeps_the_urls_it_named_whole_and_is_partial(
    engine: Engine, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    urls = serve_details(board_server, 6)
    whole = sitemap(urls)
    cut = whole[: whole.index(urls[3].encode()) + len(urls[3]) - 1]  # inside the fourth <loc>
    board_server.route("/sitemap.xml", lambda _r: Reply(200, whole, XML, close_delimited=True))
    (source,) = resolved([jsonld_source(board_server, sitemap="/sitemap.xml")], retries=0)
    assert closed(engine, source, crawl(source, crawl_workers)) == []

    board_server.route("/sitemap.xml", lambda _r: Reply(200, cut, XML, close_delimited=True))
    for _ in range(2):
        board_server.clear_log()
        result = crawl(source, crawl_workers)
        assert result.verdict is CrawlVerdict.PARTIAL
        assert sorted(p.external_id for p in result.postings) == ["WE-1", "WE-2", "WE-3"]
        assert "listing truncated: the document ends before its </urlset>" in result.reason
        assert not board_server.requests_to("/jobs/"), "the fourth <loc>, cut to …/jobs/, is not requested"
        assert closed(engine, source, result) == []


def test_a_start_page_cut_mid_list_is_partial(
    engine: Engine, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    urls = serve_details(board_server, 4)
    start = page(links=[("job-link", url) for url in urls])
    cut = start[: start.index(urls[2].encode())]
    board_server.route("/careers", lambda _r: Reply(200, start, HTML, close_delimited=True))
    (source,) = resolved(
        [jsonld_source(board_server, start_urls=["/careers"], follow="a.job-link")], retries=0
    )
    assert closed(engine, source, crawl(source, crawl_workers)) == []

    board_server.route("/careers", lambda _r: Reply(200, cut, HTML, close_delimited=True))
    for _ in range(2):
        result = crawl(source, crawl_workers)
        assert result.verdict is CrawlVerdict.PARTIAL
        assert sorted(p.external_id for p in result.postings) == ["WE-1", "WE-2"]
        assert f"{board_server.url}/careers: listing truncated: {CUT_OFF}" in result.reason
        assert closed(engine, source, result) == []


def cut_json(payload: Any) -> Handler:
    body = json_reply(payload).body
    return lambda _request: Reply(200, body[: len(body) * 2 // 3], {"Content-Type": "application/json"},
                                  close_delimited=True)  # fmt: skip


def test_a_json_listing_cut_off_fails_and_closes_nothing(
    engine: Engine, board_server: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    postings = lever_postings(30)
    board_server.route("/v0/postings/bilby", lambda _r: json_reply(postings))
    (source,) = resolved([{"name": "bilby", "type": "lever", "site": "bilby", "base_url": board_server.url}],
                         retries=0)  # fmt: skip
    assert closed(engine, source, crawl(source, crawl_workers)) == []

    board_server.route("/v0/postings/bilby", cut_json(postings))
    for _ in range(2):
        result = crawl(source, crawl_workers)
        assert result.verdict is CrawlVerdict.FAILED and result.postings == ()
        assert "response is not JSON" in result.reason and "truncated?" in result.reason
        assert closed(engine, source, result) == []
