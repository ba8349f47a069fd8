"""The dashboard's pages over a seeded database on each backend: content, filters, paging, and that
hostile board content never becomes markup."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from rolewatch.web.security import CONTENT_SECURITY_POLICY
from tests.integration.web_checks import audit, cli_json
from tests.integration.web_seed import CHANNEL_SECRET, HOSTILE_COMPANY, HOSTILE_TITLE, Seeded

PAGES = [
    "/",
    "/events",
    "/events?type=changed",
    "/postings",
    "/postings?status=all&sort=title",
    "/postings?q=title:intern",
    "/sources",
    "/sources/acme",
    "/subscriptions",
    "/subscriptions/interns",
    "/charts",
    "/charts?days=7&company=Acme",
]


def test_every_page_renders_and_no_board_string_becomes_markup(
    web_client: TestClient, web_seeded: Seeded
) -> None:
    for path in [*PAGES, f"/postings/{web_seeded.hostile_id}"]:
        response = web_client.get(path)
        assert response.status_code == 200, (path, response.text[:300])
        assert response.headers["content-type"].startswith("text/html")
        assert audit(response.text) == [], path
        assert "<script>alert" not in response.text, path


def test_hostile_strings_are_shown_as_text(web_client: TestClient, web_seeded: Seeded) -> None:
    page = web_client.get(f"/postings/{web_seeded.hostile_id}").text
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt;&#34;&gt;&lt;img" in page
    assert "&lt;svg onload=alert(2)&gt;Evil &amp; Co" in page
    # The description keeps its safe link and loses the script, the image and the javascript: link.
    assert 'href="https://safe.example/apply"' in page and "apply here" in page
    assert "tracker.example" not in page and "alert(5)" not in page
    listing = web_client.get("/postings?status=all").text
    assert HOSTILE_TITLE not in listing and HOSTILE_COMPANY not in listing
    assert "&lt;script&gt;" in listing


def test_security_headers_on_every_answer(web_client: TestClient) -> None:
    for path in [
        "/",
        "/postings/999999",
        "/static/rolewatch.css",
        "/feeds/events.atom",
        "/api/events",
        "/nope",
    ]:
        headers = web_client.get(path).headers
        assert headers["content-security-policy"] == CONTENT_SECURITY_POLICY, path
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
        assert headers["x-frame-options"] == "DENY"
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY and "script-src" not in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY


def test_no_channel_secret_is_ever_shown(web_client: TestClient) -> None:
    for path in [*PAGES, "/feeds/subscriptions/interns.atom", "/api/sources", "/api/events"]:
        assert CHANNEL_SECRET not in web_client.get(path).text, path
        assert "mailto:" not in web_client.get(path).text, path


def test_overview_counts_open_postings_and_recent_events(web_client: TestClient) -> None:
    page = web_client.get("/").text
    numbers = re.findall(r'<span class="number">(\d+)</span>', page)
    # acme: 1, 2 (reopened), evil; globex: 7 — four open; 3+1+1+1+1 events within the day.
    assert numbers[0] == "4"
    assert int(numbers[1]) == int(numbers[2]) >= 6
    assert "failed" in page and "HTTP 503 &lt;b&gt;busy&lt;/b&gt;" in page


def test_events_filter_by_type_source_and_company(web_client: TestClient) -> None:
    assert "Closing Analyst" in web_client.get("/events?type=closed").text
    assert "Backend Engineer" not in web_client.get("/events?type=closed").text
    only_globex = web_client.get("/events?source=globex").text
    assert "Backend Engineer" in only_globex and "Closing Analyst" not in only_globex
    assert "Backend Engineer" in web_client.get("/events?company=Globex").text
    assert "Nothing here" in web_client.get("/events?since=2000-01-01&until=2000-01-02").text
    assert web_client.get("/events?type=bogus").status_code == 400
    assert web_client.get("/events?since=yesterday-ish").status_code == 400


def _follow(client: TestClient, first: str, pattern: str) -> list[str]:
    """Every row text across pages, following the `next` link to the end."""
    seen, url = [], first
    while url:
        page = client.get(url).text
        seen += re.findall(pattern, page)
        found = re.search(r'<a rel="next" href="([^"]+)"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    return seen


def test_keyset_paging_visits_every_row_once(web_client: TestClient) -> None:
    row = r'<td><a href="/postings/\d+">([^<]+)</a></td>'
    one_page = re.findall(row, web_client.get("/postings?status=all&sort=title").text)
    paged = _follow(web_client, "/postings?status=all&sort=title&limit=1", row)
    assert paged == one_page and len(paged) == 4 and paged == sorted(paged)
    events = _follow(web_client, "/events?limit=2", r'<td class="nowrap">([^<]+)</td>')
    assert len(events) == len(re.findall(r'<td class="nowrap">', web_client.get("/events").text))


def test_postings_search_speaks_the_subscription_language(web_client: TestClient) -> None:
    interns = web_client.get("/postings?q=title:intern").text
    assert "Data Scientist Intern 1" in interns and "Closing Analyst" not in interns
    negated = web_client.get("/postings?q=" + "analyst OR engineer NOT backend").text
    assert "Closing Analyst" in negated and "Backend Engineer" not in negated
    assert "Backend Engineer" not in web_client.get("/postings?location=Sydney&company=Acme").text
    assert "Data Scientist Intern 1" in web_client.get("/postings?employment_type=intern").text
    bad = web_client.get("/postings?q=title:(intern")
    assert bad.status_code == 400 and "q" in bad.text
    assert web_client.get("/postings?employment_type=astronaut").status_code == 400


def test_posting_page_shows_every_version_field_by_field(web_client: TestClient) -> None:
    page = web_client.get("/postings/acme/1").text
    assert "Versions (2)" in page
    assert re.search(r"<td>salary</td><td></td><td>AUD 90,000/yr</td>", page)
    assert "reopened" not in page and "changed" in page
    closing = web_client.get("/postings/acme/2").text
    assert "closed" in closing and "reopened" in closing
    assert web_client.get("/postings/acme/nope").status_code == 404


def test_source_page_lists_crawls_with_verdicts_and_reasons(web_client: TestClient) -> None:
    page = web_client.get("/sources/acme").text
    assert page.count('<span class="verdict verdict-complete">') == 4
    assert "HTTP 503 &lt;b&gt;busy&lt;/b&gt;" in page
    assert web_client.get("/sources/nope").status_code == 404


def test_subscription_page_shows_what_subscriptions_test_shows(
    web_client: TestClient, engine: Engine, tmp_path: Path
) -> None:
    expected = cli_json(tmp_path, engine, "subscriptions", "test", "interns", "--since", "7d")
    page = web_client.get("/subscriptions/interns").text
    shown = re.findall(r'<td><a href="/postings/[^"]+">([^<]+)</a></td>', page)
    assert len(shown) == len(expected) > 0
    assert sorted(shown) == sorted(_escaped(row["title"]) for row in expected)
    assert "Nothing here" in web_client.get("/subscriptions/nothing").text
    assert web_client.get("/subscriptions/nope").status_code == 404


def _escaped(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def test_charts_are_inline_svg_with_the_day_figures(web_client: TestClient) -> None:
    page = web_client.get("/charts?days=7").text
    assert page.count('<svg class="chart"') == 3
    assert "Days from first seen to closed" in page and "90+" in page
    assert web_client.get("/charts?days=5").status_code == 400


@pytest.mark.parametrize("path", ["/events?cursor=garbage", "/postings?cursor=WyJ4Il0", "/postings?limit=0"])
def test_bad_paging_parameters_are_a_400_not_a_crash(web_client: TestClient, path: str) -> None:
    response = web_client.get(path)
    assert (response.status_code == 400 and "cursor" in response.text) or "limit" in response.text


def test_next_links_keep_the_filters(web_client: TestClient) -> None:
    page = web_client.get("/events?source=acme&limit=1").text
    link = re.search(r'<a rel="next" href="([^"]+)"', page)
    assert link is not None
    query = parse_qs(urlsplit(link.group(1).replace("&amp;", "&")).query)
    assert query["source"] == ["acme"] and query["limit"] == ["1"] and query["cursor"]
