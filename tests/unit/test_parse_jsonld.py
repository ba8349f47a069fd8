"""The jsonld type without a crawl: where JobPostings hide in a page, and each property's shapes."""

from __future__ import annotations

import json
from typing import Any

import pytest
from scrapy.http import HtmlResponse, Response, TextResponse

from crawler.spider import Board, ListingError, PostingError
from crawler.spiders._jobposting import country_code
from crawler.spiders.jsonld import JsonLdSpider, read_page, read_sitemap, records
from rolewatch.config import ConfigError
from rolewatch.domain import Location, Posting, Salary
from rolewatch.resolve import parse_config
from tests.fixtures.jsonld import (
    flat_salary,
    graph,
    item_list,
    job_posting,
    microdata_posting,
    page,
    place,
    property_value,
    quantitative_salary,
)

PAGE = "https://wombat.example/careers/jobs/7?utm_source=x"


def board(**options: Any) -> Board[Any]:
    entry = {"name": "w", "type": "jsonld", "start_urls": ["https://wombat.example/careers"], **options}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


def parse(posting: dict[str, Any], url: str = PAGE) -> Posting:
    (record,) = records([posting], url)
    return JsonLdSpider().to_posting(record, board())


def html(body: bytes, url: str = PAGE) -> HtmlResponse:
    return HtmlResponse(url=url, body=body, encoding="utf-8")


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({}, "sources[0]: give either start_urls or sitemap (exactly one of them)"),
        (
            {"start_urls": ["https://a.example/"], "sitemap": "https://a.example/s.xml"},
            "sources[0]: give either start_urls or sitemap (exactly one of them)",
        ),
        (
            {"start_urls": ["ftp://a.example/"]},
            "sources[0].start_urls: not an http(s) URL or a path: 'ftp://a.example/'",
        ),
        (
            {"start_urls": ["/careers"]},
            "sources[0]: '/careers' is a path: give base_url, or a whole http(s) URL",
        ),
        (
            {"start_urls": ["https://a.example/"], "follow": "a[["},
            "sources[0].follow: not a CSS selector: 'a[['",
        ),
        (
            {"sitemap": "https://a.example/s.xml", "sitemap_filter": "(jobs"},
            "sources[0].sitemap_filter: not a regular",
        ),
        (
            {"sitemap": "https://a.example/s.xml", "follow": "a"},
            "sources[0]: follow applies to start_urls; every sitemap URL is already a detail page",
        ),
        (
            {"start_urls": ["https://a.example/"], "max_pages": 0},
            "sources[0].max_pages: input should be greater",
        ),
    ],
)
def test_options_are_validated_and_each_problem_names_its_key(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse_config(json.dumps({"sources": [{"name": "w", "type": "jsonld", **options}]}))
    assert any(line.startswith(problem) for line in error.value.problems), error.value.problems


@pytest.mark.parametrize(
    ("salary", "expected"),
    [
        (quantitative_salary(70000, 85000, "AUD", "YEAR"), Salary(70000, 85000, "AUD", "year")),
        (quantitative_salary(None, None, "GBP", "DAY", single=450), Salary(450, 450, "GBP", "day")),
        (quantitative_salary(1200, None, "NZD", "WEEK"), Salary(1200, None, "NZD", "week")),
        (flat_salary(28.5, "USD", "HOUR"), Salary(28.5, 28.5, "USD", "hour")),
        (
            {
                "@type": "MonetaryAmount",
                "currency": "EUR",
                "minValue": 3000,
                "maxValue": 3500,
                "value": {"@type": "QuantitativeValue", "unitText": "MONTH"},
            },
            Salary(3000, 3500, "EUR", "month"),
        ),
        ([quantitative_salary(50, 60, "CAD", "HOUR")], Salary(50, 60, "CAD", "hour")),
        ("$45 - $55 an hour", Salary(45, 55, "USD", "hour", "$45 - $55 an hour")),
    ],
)
def test_base_salary_in_every_shape_keeps_its_own_period(salary: Any, expected: Salary | None) -> None:
    assert parse(job_posting("Analyst", salary=salary)).salary == expected


def test_salary_currency_on_the_posting_and_estimated_salary_are_used_when_base_salary_is_absent() -> None:
    value = {"@type": "QuantitativeValue", "minValue": 4000, "maxValue": 5000, "unitText": "MONTH"}
    estimated = {"@type": "MonetaryAmountDistribution", "currency": "SGD", "value": value}
    assert parse(job_posting("Analyst", estimatedSalary=estimated)).salary == Salary(
        4000, 5000, "SGD", "month"
    )
    bare = {
        "@type": "MonetaryAmount",
        "value": {"@type": "QuantitativeValue", "value": 30, "unitText": "HOUR"},
    }
    assert parse(job_posting("Analyst", salary=bare, salaryCurrency="AUD")).salary == Salary(
        30, 30, "AUD", "hour"
    )


@pytest.mark.parametrize(
    ("country", "code"),
    [
        ("AU", "AU"),
        ("Australia", "AU"),
        ("AUS", "AU"),
        ({"@type": "Country", "name": "AU"}, "AU"),
        ([{"@type": "Country", "name": "Australia"}], "AU"),
    ],
)
def test_address_country_may_be_a_code_a_name_or_a_country_object(country: Any, code: str | None) -> None:
    (location,) = parse(job_posting("Analyst", places=[place("Darwin", None, country)])).locations
    assert (location.city, location.country) == ("Darwin", code)
    assert country_code("B") is None, "a stray letter is no country"


def test_a_locality_the_gazetteer_does_not_know_keeps_the_address_country() -> None:
    posting = parse(
        job_posting("Analyst", places=[place("København", "Europe", "DK"), place(None, None, "Norway")])
    )
    assert posting.locations == (
        Location("København", city="København", country="DK"),
        Location("Norway", country="NO"),
    )


def test_telecommute_is_remote_with_the_applicant_locations_as_remote_places() -> None:
    anywhere = parse(job_posting("Support Engineer", jobLocationType="TELECOMMUTE"))
    assert anywhere.workplace == "remote" and anywhere.locations == (Location("Remote", remote=True),)
    regional = parse(
        job_posting(
            "Support Engineer",
            jobLocationType=["TELECOMMUTE"],
            applicantLocationRequirements={"@type": "State", "name": "California"},
            places=[place("San Jose", "CA", "US")],
        )
    )
    assert [(loc.city, loc.region, loc.country, loc.remote) for loc in regional.locations] == [
        ("San Jose", "CA", "US", False),
        (None, "CA", "US", True),
    ]


@pytest.mark.parametrize(
    ("identifier", "url", "expected"),
    [
        (property_value(7167985), None, "7167985"),
        ([property_value("REQ-9")], None, "REQ-9"),
        ("  J-44 ", None, "J-44"),
        (None, "/jobs/9?utm_campaign=z", "https://wombat.example/jobs/9"),
        (None, None, "https://wombat.example/careers/jobs/7"),
    ],
)
def test_identity_is_the_identifier_else_the_postings_url_else_the_page(
    identifier: Any, url: str | None, expected: str
) -> None:
    posting = parse(job_posting("Analyst", identifier=identifier, url=url))
    assert posting.external_id == expected
    assert (
        JsonLdSpider().record_id(next(records([job_posting("A", identifier=identifier, url=url)], PAGE)))
        == expected
    )


def test_several_postings_on_one_page_without_ids_get_an_anchor_each() -> None:
    found = list(records([job_posting("Welder"), job_posting("Fitter")], PAGE))
    assert [record["id"] for record in found] == [
        "https://wombat.example/careers/jobs/7#welder",
        "https://wombat.example/careers/jobs/7#fitter",
    ]


def test_employment_type_reads_lists_and_falls_back_to_the_title() -> None:
    assert parse(job_posting("Analyst", employment=["FULL_TIME", "INTERN"])).employment_type == "intern"
    assert parse(job_posting("Graduate Engineer", employment="PER_DIEM")).employment_type == "graduate"
    assert parse(job_posting("Analyst", employment="PART_TIME")).employment_type == "part_time"
    assert parse(job_posting("Analyst", employment=None)).employment_type is None


def test_titles_and_descriptions_escaped_by_the_site_are_unescaped_once() -> None:
    posting = parse(
        job_posting(
            "Sales &amp; Marketing Intern",
            description="&lt;p&gt;Tools: R&amp;amp;D &lt;b&gt;kit&lt;/b&gt;&lt;/p&gt;",
        )
    )
    assert posting.title == "Sales & Marketing Intern"
    assert posting.description_html == "<p>Tools: R&amp;D <b>kit</b></p>"
    plain = parse(job_posting("Analyst", description="Fish &amp; chips <p>on Fridays</p>"))
    assert plain.description_text == "Fish & chips\n\non Fridays"


def test_a_posting_without_a_title_is_refused_and_a_past_valid_through_closes() -> None:
    untitled = job_posting("x")
    del untitled["title"]
    with pytest.raises(PostingError):
        parse(untitled)
    assert parse(job_posting("Analyst", name="Analyst") | {"title": ""}).title == "Analyst"
    assert parse(job_posting("Analyst", valid_through="2020-01-01")).closed


def test_postings_are_found_in_graphs_arrays_item_lists_data_feeds_and_microdata() -> None:
    body = page(
        graph({"@type": "WebSite", "name": "Wombat"}, job_posting("One", identifier="1")),
        [job_posting("Two", identifier="2"), {"@type": "Organization", "name": "Wombat"}],
        item_list(
            job_posting("Three", identifier="3"),
            "/jobs/30",
            {"@id": "/jobs/31"},
        ),
        {
            "@type": "DataFeed",
            "dataFeedElement": [{"@type": "DataFeedItem", "item": job_posting("Four", identifier="4")}],
        },
        {
            "@type": "BreadcrumbList",
            "itemListElement": [{"@type": "ListItem", "item": "https://wombat.example/"}],
        },
        {"@type": ["schema:JobPosting", "Thing"], "title": "Five", "identifier": "5"},
        {"@type": "http://schema.org/JobPosting", "title": "Six", "identifier": "6"},
        body=microdata_posting("Seven", "Wombat", "Cairns", "QLD", "AU", "<p>Seven</p>"),
        wrap="cdata",
    )
    found = read_page(html(body))
    assert [p.get("title") for p in found.postings] == ["One", "Two", "Three", "Four", "Five", "Six", "Seven"]
    assert found.links == ["/jobs/30", "/jobs/31"], "breadcrumbs are not postings to follow"
    assert found.problems == []
    assert "htmlNode" not in json.dumps(found.postings[-1], default=str)


def test_a_broken_block_is_reported_and_the_good_ones_kept() -> None:
    found = read_page(html(page('{"@type": "JobPosting", "title": ', job_posting("Kept", identifier="k"))))
    assert [p["title"] for p in found.postings] == ["Kept"]
    assert len(found.problems) == 1 and found.problems[0].startswith("a JSON-LD block is not JSON")


def test_a_response_that_is_not_html_is_a_listing_error() -> None:
    binary = Response(url=PAGE, body=b"%PDF-1.7", headers={"Content-Type": "application/pdf"})
    with pytest.raises(ListingError, match=r"not an HTML page \(application/pdf\)"):
        read_page(binary)


def test_sitemaps_and_what_is_not_one() -> None:
    def xml(body: bytes) -> TextResponse:
        return TextResponse(url="https://wombat.example/sitemap.xml", body=body, encoding="utf-8")

    urlset = (
        b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
        b"<url><loc> https://w.example/j/1 </loc></url></urlset>"
    )
    assert read_sitemap(xml(urlset)) == ("urlset", ["https://w.example/j/1"])
    with pytest.raises(ListingError, match=r"not a sitemap \(its root element is <rss>\)"):
        read_sitemap(xml(b"<rss><channel/></rss>"))
    with pytest.raises(ListingError, match="not a sitemap"):
        read_sitemap(xml(b"{not xml"))
