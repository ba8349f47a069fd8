"""Employment type from the board's own field, falling back to the title."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize.employment import (
    _BOARD_PATTERNS,
    _TITLE_PATTERNS,
    _board_kind,
    _classify,
    _title_kind,
    employment_type,
)
from rolewatch.domain import EMPLOYMENT_TYPES


@pytest.mark.parametrize(
    ("board_value", "expected"),
    [
        ("Full-time", "full_time"),
        ("Full Time", "full_time"),
        ("FullTime", "full_time"),
        ("FULL_TIME", "full_time"),
        ("full-time", "full_time"),
        ("Regular Full Time (Salary)", "full_time"),
        ("Regular", "full_time"),
        ("permanent", "full_time"),
        ("Permanent Full-Time", "full_time"),
        ("Part-time", "part_time"),
        ("PART_TIME", "part_time"),
        ("Part Time", "part_time"),
        ("Casual", "part_time"),
        ("Intern", "intern"),
        ("INTERN", "intern"),
        ("Internship", "intern"),
        ("Co-op", "intern"),
        ("Coop", "intern"),
        ("trainee", "intern"),
        ("Apprenticeship", "intern"),
        ("Full-time Internship", "intern"),
        ("Part-time Intern", "intern"),
        ("Contract", "contract"),
        ("Contractor", "contract"),
        ("CONTRACTOR", "contract"),
        ("freelance", "contract"),
        ("Contract to Hire", "contract"),
        ("Temporary", "temporary"),
        ("Fixed Term", "temporary"),
        ("Fixed-term", "temporary"),
        ("Temporary Full Time", "temporary"),
        ("Seasonal", "temporary"),
        ("Graduate", "graduate"),
        ("New Grad", "graduate"),
        ("Graduate Program", "graduate"),
        ("Entry Level", None),
        ("Undergraduate", None),
        ("Other", None),
        ("PER_DIEM", None),
        ("", None),
        (None, None),
    ],
)
def test_employment_type_maps_board_vocabularies(board_value: str | None, expected: str | None) -> None:
    assert employment_type(board_value) == expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ("Software Engineer Intern", "intern"),
        ("Data Science Internship - Summer 2026", "intern"),
        ("Marketing Interns", "intern"),
        ("Co-op Student, Engineering", "intern"),
        ("Coop - Software", "intern"),
        ("Investment Banking Summer Analyst", "intern"),
        ("Summer Associate", "intern"),
        ("Industrial Placement - Finance", "intern"),
        ("Software Engineer, New Grad", "graduate"),
        ("New Graduate Software Engineer", "graduate"),
        ("Graduate Program 2027", "graduate"),
        ("Graduate Programme - Technology", "graduate"),
        ("Graduate Data Analyst", "graduate"),
        ("Java Developer (Contract)", "contract"),
        ("Contractor - Data Engineer", "contract"),
        ("Part-time Barista", "part_time"),
        ("Temporary Receptionist", "temporary"),
        ("Undergraduate Research Assistant", None),
        ("Postgraduate Researcher", None),
        ("Post-graduate Fellow", None),
        ("International Sales Manager", None),
        ("Internal Auditor", None),
        ("Contract Manager", None),
        ("Contracts Administrator", None),
        ("Entry Level Analyst", None),
        ("Senior Engineer", None),
        ("", None),
        (None, None),
    ],
)
def test_employment_type_falls_back_to_the_title(title: str | None, expected: str | None) -> None:
    assert employment_type(None, title) == expected


@pytest.mark.parametrize(
    ("board_value", "title", "expected"),
    [
        ("Regular", "Software Engineer Intern", "intern"),
        ("Full-time", "Data Science Intern", "intern"),
        ("Temporary", "Summer Intern 2026", "intern"),  # Workday files interns as temporary
        ("Part-time", "Engineering Intern", "intern"),
        ("Full-time", "Graduate Software Engineer", "graduate"),
        ("Regular", "New Grad - Backend", "graduate"),
        ("Internship", "New Grad Program", "intern"),
        ("Contract", "Graduate Analyst", "contract"),
        ("Full-time", "Contract Recruiter", "full_time"),
        ("Full-time", "Senior Engineer", "full_time"),
        ("Part-time", "Temporary Cashier", "part_time"),
        ("unspecified", "Java Developer (Contract)", "contract"),
        ("Entry Level", "Analyst Intern", "intern"),
    ],
)
def test_employment_type_weighs_board_value_against_title(
    board_value: str, title: str, expected: str
) -> None:
    assert employment_type(board_value, title) == expected


@given(st.one_of(st.none(), st.text()), st.one_of(st.none(), st.text()))
def test_employment_type_only_returns_known_types(board_value: str | None, title: str | None) -> None:
    assert employment_type(board_value, title) in (*EMPLOYMENT_TYPES, None)


@pytest.mark.parametrize(
    ("board_value", "expected"),
    [
        ("Graduate Jobs", "graduate"),  # GradConnection's job types
        ("Graduates", "graduate"),
        ("New Grads", "graduate"),
        ("new-grad", "graduate"),
        ("Grad Programmes", "graduate"),
        ("Internships", "intern"),
        ("Clerkships", "intern"),
        ("Cadetship", "intern"),
        ("Vacation Programs", "intern"),
        ("Entry Level Jobs", None),  # a seniority band, not a graduate programme
        ("Undergraduates", None),
        ("Postgraduates", None),
    ],
)
def test_employment_type_reads_student_board_vocabularies(board_value: str, expected: str | None) -> None:
    assert employment_type(board_value) == expected


def test_employment_type_reads_a_vacation_programme_title_as_an_internship() -> None:
    assert employment_type(None, "Summer Vacation Programme 2026 - Engineering") == "intern"
    assert employment_type(None, "Judicial Clerkship") is None, "titles keep the stricter vocabulary"


_VOCABULARY = st.sampled_from(
    ["Full-time", "FullTime", "Intern", "Summer Intern", "Contract", "Contract Manager", "Graduate 2027",
     "Postgraduate", "Part Time", "Regular", "Temporary", "Casual", "Werkstudent", ""]
)  # fmt: skip


@given(
    st.lists(st.tuples(_VOCABULARY | st.text(max_size=20), _VOCABULARY | st.text(max_size=20)), max_size=8)
)
def test_cached_readings_equal_fresh_ones(pairs: list[tuple[str, str]]) -> None:
    for board_value, title in pairs + pairs:  # the second pass answers from the caches
        assert _board_kind(board_value) == _classify(board_value, _BOARD_PATTERNS)
        assert _title_kind(title) == _classify(title, _TITLE_PATTERNS)
        assert employment_type(board_value, title) in (*EMPLOYMENT_TYPES, None)
