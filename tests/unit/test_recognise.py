"""`crawler.recognise`: real careers and ATS address shapes read as the source that watches them (offline)."""

from __future__ import annotations

from typing import Any

import pytest

from crawler.recognise import Recognised, discover, recognise, source_name

SIMPLIFY_RAW = (
    "https://raw.githubusercontent.com/SimplifyJobs/Summer2026-Internships/dev/.github/scripts/listings.json"
)

#: (address, type, options, token)
SHAPES: list[tuple[str, str, dict[str, Any], str]] = [
    # Greenhouse: board, job page, the newer host, embeds, the API
    ("https://boards.greenhouse.io/stripe", "greenhouse", {"board": "stripe"}, "stripe"),
    ("https://boards.greenhouse.io/stripe/jobs/6123456", "greenhouse", {"board": "stripe"}, "stripe"),
    ("https://job-boards.greenhouse.io/amplitude/", "greenhouse", {"board": "amplitude"}, "amplitude"),
    ("HTTPS://BOARDS.GREENHOUSE.IO/smarterdx", "greenhouse", {"board": "smarterdx"}, "smarterdx"),
    (
        "https://boards.greenhouse.io/embed/job_board?for=acme&b=https%3A%2F%2Facme.com",
        "greenhouse",
        {"board": "acme"},
        "acme",
    ),
    ("https://boards.greenhouse.io/embed/job_board/js?for=acme", "greenhouse", {"board": "acme"}, "acme"),
    (
        "https://job-boards.greenhouse.io/embed/job_app?for=acme&token=123",
        "greenhouse",
        {"board": "acme"},
        "acme",
    ),
    (
        "https://boards-api.greenhouse.io/v1/boards/stripe/jobs?content=true",
        "greenhouse",
        {"board": "stripe"},
        "stripe",
    ),
    ("boards.greenhouse.io/stripe", "greenhouse", {"board": "stripe"}, "stripe"),
    # Lever, and its EU instance
    ("https://jobs.lever.co/palantir", "lever", {"site": "palantir"}, "palantir"),
    (
        "https://jobs.lever.co/palantir/3f1c7e2a-0000-4000-8000-000000000000/apply",
        "lever",
        {"site": "palantir"},
        "palantir",
    ),
    (
        "https://jobs.eu.lever.co/idealist/",
        "lever",
        {"site": "idealist", "base_url": "https://api.eu.lever.co"},
        "idealist",
    ),
    ("https://api.lever.co/v0/postings/palantir?mode=json", "lever", {"site": "palantir"}, "palantir"),
    # Ashby (names keep their spaces and capitals)
    ("https://jobs.ashbyhq.com/openevidence", "ashby", {"board": "openevidence"}, "openevidence"),
    (
        "https://jobs.ashbyhq.com/Hippocratic%20AI/1234?utm_source=x",
        "ashby",
        {"board": "Hippocratic AI"},
        "Hippocratic AI",
    ),
    # Workday: locale prefix or none, a posting under the site, search text and facets, myworkdaysite
    (
        "https://nvidia.wd5.myworkdayjobs.com/en-US/NVIDIAExternalCareerSite",
        "workday",
        {"url": "https://nvidia.wd5.myworkdayjobs.com/en-US/NVIDIAExternalCareerSite"},
        "nvidia",
    ),
    (
        "https://begacheese.wd3.myworkdayjobs.com/Bega_Careers/job/Sydney/Analyst_JR-7309",
        "workday",
        {"url": "https://begacheese.wd3.myworkdayjobs.com/Bega_Careers"},
        "begacheese",
    ),
    (
        "https://NVIDIA.WD5.myworkdayjobs.com/en-US/NVIDIAExternalCareerSite/?q=data&locationHierarchy1=2fcb99c4&jobFamilyGroup=0c40f6bd&jobFamilyGroup=1d2e",
        "workday",
        {
            "url": "https://nvidia.wd5.myworkdayjobs.com/en-US/NVIDIAExternalCareerSite",
            "search_text": "data",
            "applied_facets": {"locationHierarchy1": ["2fcb99c4"], "jobFamilyGroup": ["0c40f6bd", "1d2e"]},
        },
        "nvidia",
    ),
    (
        "https://wd3.myworkdaysite.com/recruiting/acme/External",
        "workday",
        {"url": "https://wd3.myworkdaysite.com/recruiting/acme/External"},
        "acme",
    ),
    # SmartRecruiters
    ("https://careers.smartrecruiters.com/Knight", "smartrecruiters", {"company": "Knight"}, "Knight"),
    (
        "https://jobs.smartrecruiters.com/Knight/743999-data-analyst",
        "smartrecruiters",
        {"company": "Knight"},
        "Knight",
    ),
    (
        "https://careers.smartrecruiters.com/Knight?search=analyst",
        "smartrecruiters",
        {"company": "Knight", "query": "analyst"},
        "Knight",
    ),
    # Recruitee, Workable, Personio
    ("https://sendcloud.recruitee.com/", "recruitee", {"company": "sendcloud"}, "sendcloud"),
    ("https://sendcloud.recruitee.com/o/data-analyst", "recruitee", {"company": "sendcloud"}, "sendcloud"),
    ("https://apply.workable.com/huggingface/", "workable", {"account": "huggingface"}, "huggingface"),
    (
        "https://apply.workable.com/huggingface/j/8B1F2C3D4E/",
        "workable",
        {"account": "huggingface"},
        "huggingface",
    ),
    ("https://zaelab.workable.com", "workable", {"account": "zaelab"}, "zaelab"),
    ("https://acme.jobs.personio.de/", "personio", {"company": "acme"}, "acme"),
    (
        "https://acme.jobs.personio.de/job/123456?language=de",
        "personio",
        {"company": "acme", "language": "de"},
        "acme",
    ),
    (
        "https://acme.jobs.personio.com/",
        "personio",
        {"company": "acme", "base_url": "https://acme.jobs.personio.com"},
        "acme",
    ),
    # TikTok: the site, its search with filters, the older careers.tiktok.com search
    ("https://lifeattiktok.com/", "tiktok", {}, "tiktok"),
    (
        "https://lifeattiktok.com/search?keyword=data&recruitment_id_list=2&job_category_id_list=6704215862603155720&location_code_list=CT_94,CT_1103355&limit=12&offset=0",
        "tiktok",
        {
            "keyword": "data",
            "recruitment": ["intern", "new-grad"],
            "categories": ["6704215862603155720"],
            "locations": ["CT_94", "CT_1103355"],
        },
        "tiktok",
    ),
    (
        "https://lifeattiktok.com/search?keyword=&recruitment_id_list=202",
        "tiktok",
        {"recruitment": ["intern"]},
        "tiktok",
    ),
    (
        "https://careers.tiktok.com/position?keywords=ml&category=&location=CT_75&project=&type=201&current=1&limit=10",
        "tiktok",
        {"keyword": "ml", "recruitment": ["new-grad"], "locations": ["CT_75"]},
        "tiktok",
    ),
    # GradConnection: country sites, list pages with discipline and place, searches, employers
    (
        "https://au.gradconnection.com/graduate-jobs/engineering/sydney/",
        "gradconnection",
        {
            "country": "au",
            "job_type": "graduate-jobs",
            "discipline": "engineering",
            "location": "sydney,AU,Cities",
        },
        "gradconnection-au",
    ),
    (
        "https://au.gradconnection.com/internships/data-science-and-analytics/",
        "gradconnection",
        {"country": "au", "job_type": "internships", "discipline": "data-science-and-analytics"},
        "gradconnection-au",
    ),
    (
        "https://uk.gradconnection.com/jobs/united-kingdom/?title=analyst&ordering=-recent_job_created",
        "gradconnection",
        {"country": "uk", "query": "analyst"},
        "gradconnection-uk",
    ),
    (
        "https://hk.gradconnection.com/employers/hsbc/jobs/hsbc-graduate-programme/",
        "gradconnection",
        {"country": "hk", "query": "hsbc"},
        "hsbc",
    ),
    (
        "https://au.gradconnection.com/?job_type=internships&location=melbourne,AU,Cities",
        "gradconnection",
        {"country": "au", "job_type": "internships", "location": "melbourne,AU,Cities"},
        "gradconnection-au",
    ),
    # The Muse: company profiles, searches with level and location (path or query)
    ("https://www.themuse.com/profiles/facebook", "themuse", {"company": ["Facebook"]}, "facebook"),
    (
        "https://www.themuse.com/search/location/new-york-ny/level/entry/",
        "themuse",
        {"location": ["New York, NY"], "level": ["Entry Level"]},
        "themuse-new-york-ny-entry-level",
    ),
    (
        "https://www.themuse.com/search/?level=Internship&location=Flexible%20%2F%20Remote&category=Data%20and%20Analytics",
        "themuse",
        {"level": ["Internship"], "location": ["Flexible / Remote"], "category": ["Data and Analytics"]},
        "themuse-internship-flexible-remote-data-and-analytics",
    ),
    # Simplify-style lists on GitHub
    (
        "https://github.com/SimplifyJobs/Summer2026-Internships",
        "simplify",
        {"url": SIMPLIFY_RAW, "employment_type": "intern"},
        "Summer2026-Internships",
    ),
    (
        "https://github.com/SimplifyJobs/New-Grad-Positions/tree/main",
        "simplify",
        {
            "url": "https://raw.githubusercontent.com/SimplifyJobs/New-Grad-Positions/main/.github/scripts/listings.json"
        },
        "New-Grad-Positions",
    ),
    (SIMPLIFY_RAW, "simplify", {"url": SIMPLIFY_RAW, "employment_type": "intern"}, "Summer2026-Internships"),
]

UNRELATED = [
    "https://example.com/careers",
    "https://www.greenhouse.io/",  # the vendor's own site, no board
    "https://lever.co/",
    "https://www.myworkdayjobs.com/",
    "https://www.recruitee.com/",
    "https://www.workable.com/",
    "https://github.com/",
    "https://www.themuse.com/advice/how-to-write-a-cover-letter",
    "ftp://boards.greenhouse.io/stripe",
    "mailto:jobs@example.com",
    "https://jobs.ashbyhq.com/",
]


@pytest.mark.parametrize(("url", "kind", "options", "token"), SHAPES, ids=[row[0][:70] for row in SHAPES])
def test_a_board_address_is_read_as_its_source(
    url: str, kind: str, options: dict[str, Any], token: str
) -> None:
    found = recognise(url)
    assert found is not None
    assert (found.type, found.options, found.token) == (kind, options, token)


@pytest.mark.parametrize("url", UNRELATED)
def test_an_address_that_names_no_board_is_not_recognised(url: str) -> None:
    assert recognise(url) is None


def test_the_table_is_long_enough() -> None:
    assert len(SHAPES) + len(UNRELATED) >= 30


def test_every_recognised_source_validates_against_its_type() -> None:
    from crawler.registry import options_model

    for url, *_ in SHAPES:
        found = recognise(url)
        assert found is not None
        options_model(found.type).model_validate(found.options)


PAGE = "https://www.acme.example/careers/"


def test_a_page_with_an_embedded_greenhouse_board() -> None:
    html = '<html><body><iframe src="https://boards.greenhouse.io/embed/job_board?for=acme"></iframe></body></html>'
    found = discover(html, PAGE)
    assert (
        found == Recognised("greenhouse", {"board": "acme"}, "acme", found.how if found else "")
        and "iframe" in found.how
    )


def test_a_page_linking_to_its_lever_board() -> None:
    found = discover('<a href="https://jobs.lever.co/acme">Open roles</a>', PAGE)
    assert found is not None and (found.type, found.options) == ("lever", {"site": "acme"})


def test_links_to_job_sites_that_are_not_the_page_s_board_are_not_taken_for_one() -> None:
    html = (
        '<a href="https://github.com/acme/widgets">code</a><a href="https://lifeattiktok.com/">TikTok</a>'
        '<a href="https://www.themuse.com/profiles/acme">profile</a>'
    )
    assert discover(html, PAGE) is None


def test_a_page_with_jobposting_markup_in_a_graph() -> None:
    html = (
        '<script type="application/ld+json">{"@context": "https://schema.org", "@graph": '
        '[{"@type": "Organization"}, {"@type": "JobPosting", "title": "Analyst"}]}</script>'
    )
    found = discover(html, PAGE)
    assert found is not None and (found.type, found.options) == ("jsonld", {"start_urls": [PAGE]})


def test_a_page_with_a_feed_link_relative_to_the_page() -> None:
    html = '<head><link rel="alternate" type="application/rss+xml" href="/jobs.rss"></head>'
    found = discover(html, PAGE)
    assert found is not None and (found.type, found.options) == (
        "feed",
        {"url": "https://www.acme.example/jobs.rss"},
    )


def test_a_feed_itself() -> None:
    found = discover('<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>', PAGE)
    assert found is not None and (found.type, found.options) == ("feed", {"url": PAGE})


def test_a_page_with_nothing() -> None:
    html = (
        '<a href="https://example.org/">x</a>'
        '<script type="application/ld+json">{"@type": "Organization"}</script>'
    )
    assert discover(html, PAGE) is None


def test_names_come_from_the_token_and_are_made_unique() -> None:
    assert source_name("Hippocratic AI", set()) == "hippocratic-ai"
    assert source_name("stripe", {"stripe", "stripe-2"}) == "stripe-3"
    assert source_name("Summer2026-Internships", set()) == "summer2026-internships"
