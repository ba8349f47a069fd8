"""Employment type from a board's own vocabulary, falling back to what the title says."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from crawler.normalize.text import split_camel


def _words(*alternatives: str, not_after: tuple[str, ...] = ()) -> re.Pattern[str]:
    """One pattern matching any of `alternatives` as whole words, unless preceded by `not_after`."""
    guards = "".join(f"(?<!{word} )" for word in not_after)
    return re.compile(guards + r"\b(?:" + "|".join(alternatives) + r")\b")


_INTERN_WORDS: Final = (
    r"intern(?:s|ship|ships)?", r"co ?op", r"trainee(?:ship)?", r"placement", r"industrial placement",
    r"year in industry", r"working student", r"werkstudent", r"vacation(?:er| program)",
    r"vacation (?:programs|programmes?)",
    r"summer (?:analyst|associate)",
)  # fmt: skip
_NOT_GRADUATE: Final = ("under", "post")

# Checked in order: the more specific arrangement wins ("Full-time Internship" is an internship,
# "Temporary Full Time" is temporary).
_BOARD_PATTERNS: Final = (
    # Australian student programmes (GradConnection's job types): a clerkship is a law student's
    # summer or winter placement, a cadetship paid work alongside study.
    ("intern", _words(*_INTERN_WORDS, r"apprentice(?:ship)?", r"clerkships?", r"cadetships?")),
    (
        "graduate",
        _words(r"graduates?", r"new grads?", r"grad program(?:me)?s?", r"grad", not_after=_NOT_GRADUATE),
    ),
    (
        "contract",
        _words(r"contract", r"contractor", r"contracted", r"freelance", r"freelancer", r"consultant"),
    ),
    ("temporary", _words(r"temporary", r"temp", r"fixed ?term", r"seasonal", r"limited term")),
    ("part_time", _words(r"part ?time", r"casual")),
    ("full_time", _words(r"full ?time", r"permanent", r"regular", r"salaried")),
)
# Titles are prose, so only unmistakable words count: "Contract Manager" manages contracts.
_TITLE_PATTERNS: Final = (
    ("intern", _words(*_INTERN_WORDS)),
    (
        "graduate",
        _words(r"new grad(?:uate)?s?", r"graduates?", r"grad program(?:me)?", not_after=_NOT_GRADUATE),
    ),
    (
        "contract",
        _words(
            r"contractor",
            r"contract(?! (?:manager|management|administrator|administration|specialist|analyst|negotiator"
            r"|lawyer|attorney|counsel|officer|coordinator))",
        ),
    ),
    ("part_time", _words(r"part ?time")),
    ("temporary", _words(r"temporary", r"fixed ?term", r"seasonal")),
    ("full_time", _words(r"full ?time")),
)

_SEPARATORS: Final = re.compile(r"[^a-z0-9]+")


def employment_type(board_value: str | None, title: str | None = None) -> str | None:
    """One of EMPLOYMENT_TYPES, from the board's field first and the title second.

    Students filter on internships and graduate roles, and boards often file those as plain
    "Full-time" or "Regular"; so a title that says intern or graduate beats a board value
    that only describes hours, and a title that says intern beats any board value short of
    intern itself (Workday lists summer interns as "Temporary").
    """
    board = _board_kind(board_value) if board_value else None
    titled = _title_kind(title) if title else None
    if titled == "intern" or (titled == "graduate" and board in (None, "full_time", "part_time")):
        return titled
    return board or titled


# One cache per vocabulary, keyed on the text alone: a key holding the patterns would hash every
# compiled pattern on every lookup.
@lru_cache(maxsize=16_384)
def _board_kind(value: str) -> str | None:
    """Cached: a crawl repeats the same handful of board values."""
    return _classify(value, _BOARD_PATTERNS)


@lru_cache(maxsize=16_384)
def _title_kind(value: str) -> str | None:
    """Cached: boards list the same title for many places and openings."""
    return _classify(value, _TITLE_PATTERNS)


def _classify(value: str, patterns: tuple[tuple[str, re.Pattern[str]], ...]) -> str | None:
    words = " " + _SEPARATORS.sub(" ", split_camel(value).lower()).strip() + " "
    for kind, pattern in patterns:
        if pattern.search(words):
            return kind
    return None
