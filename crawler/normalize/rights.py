"""Visa-sponsorship status from boards' labels and from clear statements in descriptions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

_COUNTRY: Final = (
    r"(?:u\.?\s?s\.?(?:a\.?)?|united states|american|australian|canadian|british|uk|u\.k\.|new zealand"
    r"|singapore|nz|n\.z\.)"
)
# A requirement that goes on to admit permanent residents ("Australian citizen, NZ citizen or
# permanent resident") asks for the right to work, not for citizenship.
_RESIDENTS_TOO: Final = r"(?![^.;:!?]{0,80}?\bpermanent\s+residen)"

# Statement patterns are matched against lower-cased text. A citizens-only statement is stricter
# than "no sponsorship", so it is looked for first.
_CITIZENS_ONLY: Final = re.compile(
    r"(?:"
    rf"\b{_COUNTRY}\s+citizenship\s+(?:is\s+)?(?:required|mandatory|needed)"
    rf"|\bmust\s+(?:be|hold)\s+(?:an?\s+)?(?:{_COUNTRY}\s+)?citizen(?:ship)?\b(?!\s*(?:or|and/or|/)\b)"
    + _RESIDENTS_TOO
    + rf"|\b{_COUNTRY}\s+citizens?\s+only\b"
    r"|\bcitizens?\s+only\b"
    rf"|\bonly\s+(?:open\s+to\s+)?(?:{_COUNTRY}\s+)?citizens\b(?!\s*(?:or|and/or|/)\b)"
    + _RESIDENTS_TOO
    + rf"|\b(?:only\s+(?:open\s+to\s+)?|must\s+be\s+(?:an?\s+)?){_COUNTRY}\s+(?:or|and|and/or|&|/)\s+"
    rf"{_COUNTRY}\s+citizens?\b(?!\s*(?:or|and/or|/)\b)"
    + _RESIDENTS_TOO
    + r"|\bcitizenship\s+(?:is\s+)?(?:required|mandatory)"
    r"|\b(?:security|government|secret|top\s+secret|ts/sci)\s+clearance\s+(?:is\s+)?"
    r"(?:required|mandatory|needed)"
    r"|\b(?:must|required\s+to|need\s+to)\s+(?:be\s+able\s+to\s+)?(?:obtain|hold|have|maintain)\s+(?:an?\s+)?"
    r"(?:active\s+)?(?:u\.?s\.?\s+)?(?:government\s+)?(?:security|secret|top\s+secret|ts/sci)\s+clearance"
    r")",
)
_NOT_OFFERED: Final = re.compile(
    r"(?:"
    r"\bno\s+(?:visa\s+|work\s+visa\s+|immigration\s+)?sponsorship"
    r"|\b(?:unable|not\s+able|not\s+be\s+able|cannot|can\s*not|can't|won't|will\s+not|do\s+not|does\s+not|don't"
    r"|doesn't|are\s+not|is\s+not|not)\s+(?:\w+\s+){0,3}?(?:sponsor|offer(?:ing)?\s+(?:visa\s+)?sponsorship"
    r"|provide\s+(?:visa\s+)?sponsorship|support\s+(?:visa\s+)?sponsorship)"
    r"|\bsponsorship\s+(?:is\s+|will\s+)?(?:not|unavailable)\b"
    r"|\bwithout\s+(?:the\s+need\s+for\s+|requiring\s+|current\s+or\s+future\s+)?(?:\w+\s+){0,2}?sponsorship"
    r"|\bmust\s+(?:already\s+)?(?:have|hold|possess)\s+(?:the\s+|full\s+|valid\s+|unrestricted\s+|legal\s+)*"
    r"(?:right\s+to\s+work|work(?:ing)?\s+rights|work\s+authori[sz]ation|authori[sz]ation\s+to\s+work)"
    r"|\bmust\s+be\s+(?:legally\s+)?(?:authori[sz]ed|eligible|entitled)\s+to\s+work"
    r"|\b(?:citizens?|nationals?)\s+(?:and|or|and/or|&|/)\s+(?:an?\s+)?(?:lawful\s+)?"
    r"(?:permanent\s+residents?|green\s+card)"
    # "Australian or New Zealand citizenship or permanent residency", "citizens, permanent residents
    # and NZ citizens": a list, within one sentence, that admits permanent residents.
    r"|\bcitizen(?:s|ship)?\b[^.;:!?]{0,80}?\bpermanent\s+residen(?:ts?|cy|ce)\b"
    r"|\bpermanent\s+residen(?:ts?|cy)\b[^.;:!?]{0,40}?\bcitizens?\b"
    r")",
)
_OFFERED: Final = re.compile(
    r"(?:"
    r"\b(?:visa|work\s+permit|immigration|h-?1b)\s+sponsorship\s+(?:is\s+)?"
    r"(?:available|offered|provided|possible)"
    r"|\bsponsorship\s+(?:is\s+)?(?:available|offered|provided)"
    r"|\bwe\s+(?:can\s+|will\s+|do\s+)?sponsor\s+(?:work\s+)?(?:visas?|work\s+permits?|h-?1b)"
    r"|\b(?:will|can|able\s+to|happy\s+to|open\s+to)\s+(?:provide\s+)?(?:visa\s+)?sponsor(?:ship|ing)?\b"
    r"|\boffers?\s+(?:visa\s+)?sponsorship"
    r"|\bsponsorship\s+(?:for\s+)?(?:this|the)\s+(?:role|position)\s+is\s+available"
    r")",
)

_STATEMENTS: Final = (
    (_CITIZENS_ONLY, "citizens_only"),
    (_NOT_OFFERED, "not_offered"),
    (_OFFERED, "offered"),
)
# Every statement above contains one of these words, and none reaches further than _REACH from it.
_CUES: Final = re.compile(
    r"sponsor|citizen|clearance|authori[sz]|right to work|work(?:ing)? rights|eligible to work"
    r"|entitled to work|permanent resident"
)
_REACH: Final = 160
# Plain text that every cue contains ("rights" stands for "work rights" and "working rights").
_CUE_WORDS: Final = (
    "sponsor", "citizen", "clearance", "authori", "right to work", "rights", "eligible to work",
    "entitled to work", "permanent resident",
)  # fmt: skip
#: A word of each cue, found in the text as it came whenever the cue is in its tidied form (a cue's
#: words may be apart by a line break there): when none is, tidying the text is wasted work.
_CUE_STEMS: Final = tuple(dict.fromkeys(word.split()[0].removesuffix("s") for word in _CUE_WORDS))

_LABEL_CITIZENS: Final = re.compile(r"citizen|clearance", re.IGNORECASE)
_LABEL_NOT_OFFERED: Final = re.compile(
    r"\b(?:not|no|doesn't|don't|without|unable|cannot|won't)\b.*sponsor|sponsor.*\b(?:not|unavailable)\b",
    re.IGNORECASE,
)
_LABEL_OFFERED: Final = re.compile(r"sponsor", re.IGNORECASE)


def sponsorship_from_label(value: str | None) -> str | None:
    """Read a board's own sponsorship label (Simplify: "Offers Sponsorship", …) as SPONSORSHIP.

    These labels are short and curated, so any mention of citizenship means citizens only,
    a negated "sponsor" means not offered, and a bare "sponsor" means offered.
    """
    if not value:
        return None
    if _LABEL_CITIZENS.search(value):
        return "citizens_only"
    if _LABEL_NOT_OFFERED.search(value):
        return "not_offered"
    if _LABEL_OFFERED.search(value):
        return "offered"
    return None


# A board's list of who may apply (GradConnection's `work_rights`): each entry is one group.
_RIGHTS_OPEN: Final = re.compile(
    r"international|visa|student|holiday|temporary|overseas|foreign|\bany\b|\ball\b|work\s+permit",
    re.IGNORECASE,
)
_RIGHTS_RESIDENT: Final = re.compile(r"permanent\s+residen|\bpr\b", re.IGNORECASE)
_RIGHTS_CITIZEN: Final = re.compile(r"citizen", re.IGNORECASE)


def sponsorship_from_rights(labels: Iterable[str] | None) -> str | None:
    """Sponsorship implied by a board's list of who may apply ("Australian Citizen", "International Student").

    Citizens alone mean citizens only; citizens and permanent residents mean the right to work
    is required, so no sponsorship; any group that needs a visa (international students,
    working-holiday makers) says nothing about sponsorship, and neither does a label we do
    not recognise. A label that speaks of sponsorship itself is read as such.
    """
    kinds: set[str] = set()
    for label in labels or ():
        if not isinstance(label, str) or not label.strip():
            continue
        if _LABEL_OFFERED.search(label):
            return sponsorship_from_label(label)
        if _RIGHTS_OPEN.search(label):
            kinds.add("open")
        elif _RIGHTS_RESIDENT.search(label):
            kinds.add("resident")
        elif _RIGHTS_CITIZEN.search(label):
            kinds.add("citizen")
        else:
            kinds.add("unknown")
    if not kinds or kinds & {"open", "unknown"}:
        return None
    return "citizens_only" if kinds == {"citizen"} else "not_offered"


def sponsorship_from_text(text: str | None) -> str | None:
    """Sponsorship stated plainly in a description, or None when the text is silent or vague.

    Negative statements are checked before positive ones because "we do not offer visa
    sponsorship" contains "offer visa sponsorship"; a citizens-only requirement outranks both.
    """
    if not text:
        return None
    lowered = text.lower()
    if not any(map(lowered.__contains__, _CUE_STEMS)):
        return None  # most descriptions never mention it: C-level substring tests beat the cue regex
    # Lower-cased once here because case-insensitive matching is ten times slower in `re`.
    flat = " ".join(lowered.replace("\u2019", "'").split())
    if not any(map(flat.__contains__, _CUE_WORDS)):
        return None
    windows = _windows(flat)
    for pattern, status in _STATEMENTS:
        if any(pattern.search(flat, start, end) for start, end in windows):
            return status
    return None


def _windows(text: str) -> list[tuple[int, int]]:
    """Stretches of text around the words every statement turns on.

    The statement patterns are long alternations tried at every position they are given; on a
    full description that is most of the cost, so only the neighbourhood of a cue is searched.
    """
    windows: list[tuple[int, int]] = []
    for cue in _CUES.finditer(text):
        start, end = max(0, cue.start() - _REACH), cue.end() + _REACH
        if windows and start <= windows[-1][1]:
            windows[-1] = (windows[-1][0], end)
        else:
            windows.append((start, end))
    return windows
