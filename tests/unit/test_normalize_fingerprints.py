"""A normalised posting's fingerprint never drifts: every stored posting is compared by it.

A change to normalising that moved any fingerprint would make every stored posting look changed
after an upgrade, so these pin the fingerprints of Greenhouse records of many shapes (computed
before normalising was made faster) and check the fast fingerprint against its written recipe.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.spider import Board
from crawler.spiders.greenhouse import GreenhouseSpider
from rolewatch.domain import Location, Posting, Salary, WorkRights, fingerprint_of, significant_values
from rolewatch.resolve import parse_config
from tests.fixtures.boards import GREENHOUSE_CONTENT, greenhouse_job

#: (location, description HTML, employment type field, department, company name) per record.
SHAPES: list[tuple[str, str, Any, str | None, str]] = [
    ("Sydney, NSW", GREENHOUSE_CONTENT, "Regular", "Data Science ", "Koala Analytics "),
    (
        "Melbourne, VIC; Sydney, NSW",
        "<h2>About</h2><p>Salary: AUD 95,000 – 110,000 per annum + super.</p>"
        "<p>You must have full working rights in Australia; we cannot offer visa sponsorship.</p>",
        "Full-time",
        "Engineering ",
        "Koala\u00a0Analytics",
    ),
    (
        "Remote (US, Canada)",
        "<div><p>The base pay range is $120,000 - $150,000 per year.</p><table><tr><th>Level</th>"
        "<td>Senior</td></tr></table><script>track()</script><pre>code\n  block</pre></div>",
        ["Full Time", "Permanent"],
        None,
        "Bilby Robotics",
    ),
    (
        "Hybrid - Toronto, ON",
        "<p>Compensation: CA$85k–95k.</p><ol start='2'><li><p>Own the roadmap</p></li><li></li></ol>"
        "<p>Visa sponsorship is available for this role.</p>",
        "Contract",
        "Product",
        "Numbat & Co",
    ),
    (
        "US-CA-San Francisco",
        "<p>Équipe <b>données</b> — Zürich &amp; Genève; 5+ years of experience, 401(k) match.</p>"
        "<p>US citizenship is required for this position.</p>",
        "Intern",
        "Data Science",
        "Quokka",
    ),
    (
        "Bengaluru, Karnataka, India",
        "<p>CTC ₹12,00,000 - ₹18,00,000 per annum.</p><ul><li>Python</li><li>Go</li></ul>",
        None,
        "Platform",
        "Wombat Labs",
    ),
    (
        "Berlin, Germany or London, UK",
        "<p>€55.000 - €65.000 brutto im Jahr, learning budget €1,000.</p><br><br><p>Apply now</p>",
        "Temporary",
        "Sales",
        "Echidna GmbH",
    ),
    ("Anywhere", "<p>Prose\u200bwith a zero-width\u00adspace and a tab\tinside.</p>", "", "", "Dingo"),
]

#: What each shape normalised to before normalising was made faster.
FINGERPRINTS = [
    "46f1296df7174554d56841d7413f4b5c",
    "6f72a0504c8a90bee4d7faff1720cf79",
    "631e5c79f607eab194ef2e15900a2a60",
    "48bd2c36c8e5a4b3d1a4d58d7b2c7337",
    "a6c3ef9cea5df3068c413e5dc9c516c6",
    "ae34098eb899dbcb79b35797ae8fae15",
    "4dd4321b3ca5c64f6c8b07e8b24d0788",
    "43e274bfd08e5b8e53fab12dd1f0d4de",
]


def greenhouse_record(index: int) -> dict[str, Any]:
    location, content, employment, department, company = SHAPES[index]
    return greenhouse_job(
        100 + index,
        f"Data Scientist{' Intern' if index % 2 else ''} {index}",
        location=location,
        content_html=content,
        metadata=[{"id": 1, "name": "Commitment", "value": employment}],
        departments=[{"id": 2, "name": department}] if department is not None else [],
        company_name=company,
        application_deadline="2026-12-31T23:59:59Z" if index % 3 else None,
    )


def koala() -> Board[Any]:
    entry = {"name": "koala", "type": "greenhouse", "board": "koala"}
    (source,) = parse_config(json.dumps({"sources": [entry]})).resolved_sources()
    return Board(source.name, source.options, source)


@pytest.mark.parametrize("index", range(len(SHAPES)))
def test_normalising_a_record_gives_the_fingerprint_it_always_gave(index: int) -> None:
    posting = GreenhouseSpider().to_posting(greenhouse_record(index), koala())
    assert posting.fingerprint == FINGERPRINTS[index]


texts = st.text(max_size=40)


@given(
    title=texts,
    company=st.none() | texts,
    description=st.text(max_size=200),
    places=st.lists(st.builds(Location, texts, st.none() | texts, st.none() | texts, st.none() | texts)),
    salary=st.none()
    | st.builds(Salary, st.none() | st.floats(0, 1e6), st.none() | st.floats(0, 1e6), texts, texts, texts),
    rights=st.none() | st.builds(WorkRights, st.none() | texts, st.lists(texts).map(tuple)),
    deadline=st.none() | st.datetimes(timezones=st.just(UTC)),
    url=st.none() | texts,
)
def test_a_postings_fingerprint_is_the_digest_of_its_significant_values(
    title: str,
    company: str | None,
    description: str,
    places: list[Location],
    salary: Salary | None,
    rights: WorkRights | None,
    deadline: datetime | None,
    url: str | None,
) -> None:
    posting = Posting(
        source="s",
        external_id="1",
        title=title,
        company=company,
        description_text=description,
        locations=tuple(places),
        salary=salary,
        work_rights=rights,
        deadline=deadline,
        url=url,
    )
    assert posting.fingerprint == fingerprint_of(significant_values(posting))
