"""Visa sponsorship from board labels and from plain statements in descriptions."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize.rights import sponsorship_from_label, sponsorship_from_text
from rolewatch.domain import SPONSORSHIP


@pytest.mark.parametrize(
    ("label", "expected"),
    [
        ("Offers Sponsorship", "offered"),
        ("offers sponsorship", "offered"),
        ("Sponsorship Available", "offered"),
        ("Does Not Offer Sponsorship", "not_offered"),
        ("No Sponsorship", "not_offered"),
        ("Sponsorship Not Available", "not_offered"),
        ("U.S. Citizenship is Required", "citizens_only"),
        ("Citizens only", "citizens_only"),
        ("Requires Security Clearance", "citizens_only"),
        ("Other", None),
        ("Unknown", None),
        ("", None),
        (None, None),
    ],
)
def test_sponsorship_from_label_reads_simplify_style_labels(label: str | None, expected: str | None) -> None:
    assert sponsorship_from_label(label) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Unfortunately there is no visa sponsorship for this role.", "not_offered"),
        ("We are unable to sponsor visas at this time.", "not_offered"),
        ("We will not sponsor work visas.", "not_offered"),
        ("We do not offer visa sponsorship.", "not_offered"),
        ("We don’t sponsor visas.", "not_offered"),
        ("The company cannot sponsor H-1B visas.", "not_offered"),
        ("Sponsorship is not available for this position.", "not_offered"),
        ("Applicants must not require sponsorship now or in the future.", "not_offered"),
        ("You must be authorized to work in the US without sponsorship.", "not_offered"),
        ("You must have the right to work in Australia.", "not_offered"),
        ("Candidates must have work authorization in the United States.", "not_offered"),
        ("Must have full working rights in Australia.", "not_offered"),
        ("Australian citizens or permanent residents only.", "not_offered"),
        ("Must be a U.S. citizen or permanent resident.", "not_offered"),
        ("Visa sponsorship available for the right candidate.", "offered"),
        ("Visa sponsorship is available.", "offered"),
        ("We sponsor visas for international hires.", "offered"),
        ("We will sponsor your H-1B.", "offered"),
        ("We are happy to provide visa sponsorship.", "offered"),
        ("US citizenship required.", "citizens_only"),
        ("U.S. citizenship is required for this role.", "citizens_only"),
        ("Applicants must be a U.S. citizen.", "citizens_only"),
        ("Must be a US citizen due to ITAR.", "citizens_only"),
        ("Security clearance required.", "citizens_only"),
        ("Must be able to obtain a Top Secret clearance.", "citizens_only"),
        ("Active TS/SCI clearance required.", "citizens_only"),
        ("We do not offer visa sponsorship. Must be a U.S. citizen.", "citizens_only"),
        ("Great team, free lunch and a gym.", None),
        ("We sponsor hackathons and meetups.", None),
        ("Ability to obtain a security clearance is a plus.", None),
        ("Our sponsors include large banks.", None),
        ("", None),
        (None, None),
    ],
)
def test_sponsorship_from_text_reads_clear_statements(text: str | None, expected: str | None) -> None:
    assert sponsorship_from_text(text) == expected


def test_sponsorship_from_text_lets_negation_win_over_the_positive_phrase() -> None:
    text = "Visa sponsorship: we do not offer visa sponsorship for this role."
    assert sponsorship_from_text(text) == "not_offered"


def test_sponsorship_from_text_reads_statements_split_across_lines() -> None:
    assert sponsorship_from_text("We are unable\n  to sponsor\nvisas.") == "not_offered"


def test_sponsorship_from_text_handles_a_megabyte_description() -> None:
    text = "lorem ipsum " * 90_000 + "No visa sponsorship."
    assert sponsorship_from_text(text) == "not_offered"


@given(st.one_of(st.none(), st.text()))
def test_sponsorship_functions_only_return_known_values(text: str | None) -> None:
    assert sponsorship_from_text(text) in (*SPONSORSHIP, None)
    assert sponsorship_from_label(text) in (*SPONSORSHIP, None)
