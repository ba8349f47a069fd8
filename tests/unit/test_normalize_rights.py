"""Visa sponsorship from board labels and from plain statements in descriptions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crawler.normalize.rights import (
    _CUE_WORDS,
    _CUES,
    sponsorship_from_label,
    sponsorship_from_rights,
    sponsorship_from_text,
)
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Applicants must be an Australian citizen, New Zealand citizen or Australian permanent resident.",
         "not_offered"),
        ("Only Australian citizens, permanent residents and NZ citizens are eligible.", "not_offered"),
        ("Open to Australian or New Zealand citizens and Australian permanent residents.", "not_offered"),
        ("Candidates must hold Australian or New Zealand citizenship or permanent residency.", "not_offered"),
        ("Open to Australian permanent residents and citizens.", "not_offered"),
        ("Must be an Australian or NZ citizen or permanent resident.", "not_offered"),
        ("You must have unrestricted working rights in Australia.", "not_offered"),
        ("No visa sponsorship is available for this program.", "not_offered"),
        ("Must be an Australian or New Zealand citizen.", "citizens_only"),
        ("Only open to Australian and New Zealand citizens.", "citizens_only"),
        ("You must be an Australian citizen to apply.", "citizens_only"),
        ("Must be a U.S. citizen. Permanent residents are not eligible.", "citizens_only"),
        ("Must be a US citizen or permanent resident; security clearance required.", "citizens_only"),
    ],
)  # fmt: skip
def test_sponsorship_from_text_reads_australian_and_nz_work_rights(text: str, expected: str) -> None:
    assert sponsorship_from_text(text) == expected


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["Australian Citizen", "New Zealand Citizen"], "citizens_only"),
        (["Australian Citizen", "Australian Permanent Resident", "New Zealand Citizen"], "not_offered"),
        (["Permanent Resident"], "not_offered"),
        (["Australian Citizen", "Australian Permanent Resident", "International Student"], None),
        (["Working Holiday Visa"], None),
        (["Visa Sponsorship Available"], "offered"),
        (["Australian Citizen", "Something new"], None),
        (["", "  "], None),
        ([], None),
        (None, None),
    ],
)
def test_sponsorship_from_rights_reads_a_boards_list_of_who_may_apply(
    labels: list[str] | None, expected: str | None
) -> None:
    assert sponsorship_from_rights(labels) == expected


@given(st.one_of(st.none(), st.lists(st.text(max_size=40), max_size=5)))
def test_sponsorship_from_rights_only_returns_known_values(labels: list[str] | None) -> None:
    assert sponsorship_from_rights(labels) in (*SPONSORSHIP, None)


_CUE_SPELLINGS = (
    "sponsor", "citizen", "clearance", "authoris", "authoriz", "right to work", "work rights",
    "working rights", "eligible to work", "entitled to work", "permanent resident",
)  # fmt: skip


@pytest.mark.parametrize("cue", _CUE_SPELLINGS)
def test_every_cue_contains_a_cue_word(cue: str) -> None:
    """The word check may only skip texts the cue pattern could not match."""
    assert _CUES.fullmatch(cue)
    assert any(word in cue for word in _CUE_WORDS)


def test_the_cue_spellings_are_every_alternative_of_the_cue_pattern() -> None:
    alternatives = _CUES.pattern.split("|")
    spelled = {cue for cue in _CUE_SPELLINGS if any(re.fullmatch(alt, cue) for alt in alternatives)}
    assert spelled == set(_CUE_SPELLINGS)
    assert all(any(re.fullmatch(alt, cue) for cue in _CUE_SPELLINGS) for alt in alternatives)


@given(
    st.lists(
        st.sampled_from([*_CUE_SPELLINGS, "work", "right", "rights", " ", "s"]) | st.text(max_size=6)
    ).map("".join)
)
def test_a_text_the_cue_pattern_matches_always_has_a_cue_word(text: str) -> None:
    flat = text.lower()
    if _CUES.search(flat):
        assert any(word in flat for word in _CUE_WORDS)
