"""A hostile board tries to send the crawler to local files and internal hosts (issue #15, finding 1).

The board is a real server on 127.0.0.1; the "internal host" is a second real server on 127.0.0.2
(Linux routes all of 127/8 to the loopback interface) holding a secret, and each test first
proves that server would have answered. The crawler must refuse every request that leaves the
source's own hosts before it is sent, say which URL it refused, and never show what such a URL
holds: not in the crawl's errors, not in `rolewatch status`.
"""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from crawler.run import crawl_sources
from crawler.workers import CrawlWorkers
from rolewatch.cli import cli
from rolewatch.domain import CrawlResult, CrawlVerdict
from rolewatch.output import render
from rolewatch.resolve import parse_config
from scheduler.pipeline import crawl_and_record
from scheduler.schedule import next_cron_fire
from storage.queries import source_status
from tests.boardserver import BoardServer, Reply
from tests.fixtures.boards import greenhouse_board, greenhouse_job
from tests.fixtures.json import QUOKKA_FIELDS, quokka_job, quokka_jobs, quokka_page
from tests.fixtures.jsonld import HTML, XML, job_posting, page, sitemap
from tests.integration.crawling import FAST_POLITENESS, by_name, resolved

SECRET = "INTERNAL-SECRET-7f3a"
BOARD = "/v1/boards/koala/jobs"


@pytest.fixture
def internal() -> Iterator[BoardServer]:
    """An internal service on 127.0.0.2 that must never be reached; it answers anyone who asks."""
    with BoardServer(host="127.0.0.2") as server:
        server.set_json("/internal", {"secret": SECRET})
        server.set_json(BOARD, greenhouse_board([greenhouse_job(1, f"Internal {SECRET}")]))
        with urllib.request.urlopen(f"{server.url}/internal", timeout=5) as answer:
            assert SECRET in answer.read().decode(), "the internal server answers when asked directly"
        server.clear_log()
        yield server


def every_error(result: CrawlResult) -> str:
    return "\n".join([result.reason, *result.stats.errors])


def redirect_to(url: str) -> Reply:
    return Reply(302, b"moved", {"Location": url, "Content-Type": "text/plain"})


# --- a next link to a local file ------------------------------------------------------------------


def file_link_document(server: BoardServer, engine: Any) -> dict[str, Any]:
    source = {
        "name": "quokka",
        "type": "json",
        "url": f"{server.url}/api/jobs",
        "items": "data.jobs",
        "fields": QUOKKA_FIELDS,
        "paging": {"type": "next", "next": "links.next"},
    }
    return {
        "database": engine.url.render_as_string(hide_password=False),
        "defaults": {"timeout": "20s", "politeness": {**FAST_POLITENESS, "conditional_requests": False}},
        "sources": [source],
    }


def test_a_file_next_link_is_refused_its_content_never_shown_and_no_posting_closes(
    engine: Any, board_server: BoardServer, crawl_workers: CrawlWorkers, tmp_path: Path
) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text(json.dumps({"data": {"jobs": []}, "password": SECRET}))
    config = parse_config(yaml.safe_dump(file_link_document(board_server, engine)))
    jobs = [quokka_job(n, f"Analyst {n}", closes="2031-01-31") for n in (1, 2)]
    board_server.set_json("/api/jobs", quokka_page(jobs))
    (first,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)
    assert first.verdict is CrawlVerdict.COMPLETE

    link = creds.as_uri()
    board_server.set_json("/api/jobs", quokka_page(jobs[:1], next_link=link))
    (second,) = crawl_and_record(engine, config, config.resolved_sources(), workers=crawl_workers)

    assert second.verdict is CrawlVerdict.PARTIAL, "a refused page leaves the listing unfinished"
    assert second.events == (), "posting 2 was not on the page read, yet a refused page closes nothing"
    errors = "\n".join([second.note, *second.stats.errors])
    assert f"GET {link}: refused: only http and https URLs are requested, not file:" in errors
    assert SECRET not in errors

    (status,) = source_status(engine, config.resolved_sources(), next_cron_fire)
    assert status.open_postings == 2 and f"GET {link}: refused" in status.note, status
    shown = io.StringIO()  # what `rolewatch status` prints, without a second engine on the database
    render([vars(status)], ["name", "verdict", "open_postings", "note"], "table", out=shown)
    assert "refused" in shown.getvalue() and SECRET not in shown.getvalue()


# --- redirects --------------------------------------------------------------------------------------


def greenhouse(server: BoardServer, name: str = "koala", **keys: Any) -> dict[str, Any]:
    return {"name": name, "type": "greenhouse", "board": "koala", "base_url": server.url, **keys}


def test_a_redirect_to_an_internal_host_is_refused_before_it_is_sent(
    board_server: BoardServer, internal: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    board_server.route(BOARD, lambda _request: redirect_to(f"{internal.url}/internal"))

    (result,) = crawl_sources(resolved([greenhouse(board_server)], retries=0), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.FAILED and result.postings == ()
    assert result.reason.startswith(
        f"GET {internal.url}/internal: refused: 127.0.0.2 is not one of this source's hosts (127.0.0.1"
    ), result.reason
    assert f"(redirected from {board_server.url}{BOARD}?content=true)" in result.reason
    assert internal.requests == [], "nothing was sent to the internal host, not even robots.txt"
    assert SECRET not in every_error(result)


def test_allowed_hosts_lets_a_redirect_through_and_a_redirected_body_is_never_quoted(
    board_server: BoardServer, internal: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    internal.set_json("/wrong", {"error": SECRET})
    board_server.route(BOARD, lambda _request: redirect_to(f"{internal.url}{BOARD}"))
    board_server.route("/v1/boards/odd/jobs", lambda _request: redirect_to(f"{internal.url}/wrong"))
    sources = [
        greenhouse(board_server, "cdn", allowed_hosts=["127.0.0.2"]),
        greenhouse(board_server, "odd", board="odd", allowed_hosts=["127.0.0.2"]),
    ]

    results = by_name(crawl_sources(resolved(sources, retries=0), workers=crawl_workers))

    assert results["cdn"].verdict is CrawlVerdict.COMPLETE, results["cdn"].reason
    assert [p.external_id for p in results["cdn"].postings] == ["1"]
    assert results["odd"].verdict is CrawlVerdict.FAILED
    assert results["odd"].reason == (
        f'GET {internal.url}/wrong: JSON has no "jobs" list (got an object: '
        "(not quoted: the response came through a redirect))"
    )
    assert SECRET not in every_error(results["odd"])


# --- followed links and sitemap entries ---------------------------------------------------------


def test_a_jsonld_follow_link_to_another_host_is_refused_and_the_own_host_one_is_read(
    board_server: BoardServer, internal: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    internal.set_raw("/jobs/9", page(job_posting(SECRET, identifier="WE-9")), headers=HTML)
    board_server.set_raw("/jobs/1", page(job_posting("Data Intern", identifier="WE-1")), headers=HTML)
    links = [("job-link", "/jobs/1"), ("job-link", f"{internal.url}/jobs/9")]
    board_server.set_raw("/careers", page(links=links), headers=HTML)
    source = {
        "name": "wombat",
        "type": "jsonld",
        "start_urls": ["/careers"],
        "follow": "a.job-link",
        "base_url": board_server.url,
    }

    (result,) = crawl_sources(resolved([source], retries=0), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.PARTIAL
    assert [p.external_id for p in result.postings] == ["WE-1"], "a link on the board's own host is read"
    assert f"GET {internal.url}/jobs/9: refused: 127.0.0.2 is not one of this source's hosts" in result.reason
    assert internal.requests == []


def test_a_sitemap_entry_on_another_host_is_refused(
    board_server: BoardServer, internal: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    internal.set_raw("/jobs/9", page(job_posting(SECRET, identifier="WE-9")), headers=HTML)
    board_server.set_raw("/jobs/1", page(job_posting("Data Intern", identifier="WE-1")), headers=HTML)
    entries = [f"{board_server.url}/jobs/1", f"{internal.url}/jobs/9"]
    board_server.set_raw("/sitemap.xml", sitemap(entries), headers=XML)
    source = {"name": "wombat", "type": "jsonld", "sitemap": "/sitemap.xml", "base_url": board_server.url}

    (result,) = crawl_sources(resolved([source], retries=0), workers=crawl_workers)

    assert result.verdict is CrawlVerdict.PARTIAL
    assert [p.external_id for p in result.postings] == ["WE-1"]
    assert f"GET {internal.url}/jobs/9: refused" in result.reason
    assert internal.requests == []
    assert SECRET not in every_error(result)


# --- addresses written another way ------------------------------------------------------------------


def test_next_links_to_loopback_link_local_and_mapped_addresses_are_refused(
    board_server: BoardServer, internal: BoardServer, crawl_workers: CrawlWorkers
) -> None:
    port = internal.url.rsplit(":", 1)[1]
    targets = {
        "mapped": f"http://[::ffff:127.0.0.2]:{port}/internal",
        "metadata": "http://169.254.169.254/latest/meta-data/",
        "ipv6-loopback": f"http://[::1]:{port}/internal",
        "loopback-by-name": f"http://localhost:{port}/internal",
    }
    sources = []
    for name, target in targets.items():
        board_server.set_json(f"/{name}", quokka_page(quokka_jobs(1), next_link=target))
        sources.append(
            {
                "name": name,
                "type": "json",
                "url": f"{board_server.url}/{name}",
                "items": "data.jobs",
                "fields": QUOKKA_FIELDS,
                "paging": {"type": "next", "next": "links.next"},
            }
        )

    results = by_name(crawl_sources(resolved(sources, retries=0), workers=crawl_workers))

    hosts = {"mapped": "::ffff:127.0.0.2", "metadata": "169.254.169.254", "ipv6-loopback": "::1"}
    hosts["loopback-by-name"] = "localhost"
    for name, target in targets.items():
        result = results[name]
        assert result.verdict is CrawlVerdict.PARTIAL, (name, result.reason)
        assert result.reason == (
            f"GET {target}: refused: {hosts[name]} is not one of this source's hosts (127.0.0.1); "
            "list the exact host in the source's allowed_hosts if the board may send the crawler there"
        )
    assert internal.requests == []


# --- the configuration's own URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (
            {"type": "greenhouse", "board": "koala", "base_url": "not a url"},
            "sources[0].base_url: not an http(s) URL: 'not a url'",
        ),
        (
            {"type": "json", "url": "file:///etc/passwd", "fields": {"id": "id", "title": "t"}},
            "sources[0].url: not an http(s) URL or a /path: 'file:///etc/passwd'",
        ),
        ({"type": "simplify", "url": "file:///etc/passwd"}, "sources[0].url: not an http(s) URL"),
        ({"type": "feed", "url": "ftp://example.com/jobs.rss"}, "sources[0].url: not an http(s) URL"),
        ({"type": "jsonld", "sitemap": "file:///etc/sitemap.xml"}, "sources[0].sitemap: not an http(s) URL"),
        ({"type": "jsonld", "start_urls": ["http:///nohost"]}, "sources[0].start_urls: not an http(s) URL"),
        (
            {"type": "html", "start_urls": ["file:///x"], "item": "li", "fields": {"title": "a"}},
            "sources[0].start_urls[0]: not an http(s) URL or a /path",
        ),
        ({"type": "workday", "url": "ftp://acme.wd5.myworkdayjobs.com/External"}, "sources[0].url: not an"),
        (
            {"type": "greenhouse", "board": "koala", "allowed_hosts": ["https://cdn.example.com/"]},
            "sources[0].allowed_hosts[0]: a host name, not a URL",
        ),
    ],
)
def test_check_refuses_a_source_url_that_is_not_http(
    tmp_path: Path, entry: dict[str, Any], problem: str
) -> None:
    config_file = tmp_path / "rolewatch.yaml"
    config_file.write_text(yaml.safe_dump({"sources": [{"name": "hostile", **entry}]}))

    checked = CliRunner().invoke(cli, ["--config", str(config_file), "check"])

    assert checked.exit_code == 2, checked.output
    assert problem in checked.output, checked.output
