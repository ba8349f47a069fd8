"""Pay ranges from free text and from boards' structured salary fields, kept exactly as offered."""

from __future__ import annotations

import math
import re
from bisect import bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any, Final

from rolewatch.domain import Salary

# Amount markers. A bare `$` is resolved later: USD unless the board's default currency is
# another dollar. Ordered longest first so `CA$` is not read as `$`.
_SYMBOLS: Final = {
    "US$": "USD", "USD$": "USD", "AU$": "AUD", "AUD$": "AUD", "A$": "AUD", "CA$": "CAD",
    "CAD$": "CAD", "C$": "CAD", "NZ$": "NZD", "NZD$": "NZD", "SG$": "SGD", "S$": "SGD",
    "HK$": "HKD", "NT$": "TWD", "MX$": "MXN", "R$": "BRL", "$": "$",
    "£": "GBP", "€": "EUR", "¥": "JPY", "￥": "JPY", "₹": "INR", "₩": "KRW", "₱": "PHP",
    "₪": "ILS", "₺": "TRY", "₫": "VND", "₦": "NGN", "฿": "THB", "Rs.": "INR", "Rs": "INR",
    "RM": "MYR", "zł": "PLN",
}  # fmt: skip
# ISO codes recognised next to an amount. Deliberately curated: codes that are also common
# words or tech names in job ads (PHP, ALL, TOP, CUP) would turn "PHP 8" into a salary.
_CODES: Final = frozenset(
    {
        "USD", "AUD", "CAD", "NZD", "SGD", "HKD", "GBP", "EUR", "INR", "JPY", "CNY", "CHF",
        "SEK", "NOK", "DKK", "PLN", "CZK", "HUF", "RON", "BGN", "BRL", "MXN", "ZAR", "KRW",
        "TWD", "ILS", "AED", "SAR", "QAR", "MYR", "IDR", "THB", "VND", "NGN", "KES", "EGP",
        "ARS", "CLP", "COP", "PEN", "UAH", "PKR", "BDT", "LKR", "ISK",
    }
)  # fmt: skip
_CODE_ALIASES: Final = {"RMB": "CNY"}
_DOLLAR_CURRENCIES: Final = frozenset({"USD", "AUD", "CAD", "NZD", "SGD", "HKD", "TWD", "MXN"})
# Currencies whose yearly pay reads in five or six digits and monthly pay in four or fewer,
# so an amount of 20,000 or more with no stated period can only be yearly.
_YEARLY_BY_SIZE: Final = frozenset({"USD", "AUD", "CAD", "NZD", "GBP", "EUR", "SGD", "CHF", "IEP"})
_YEARLY_THRESHOLD: Final = 20_000
_MAX_CANDIDATES: Final = 200
_CACHED_LENGTH: Final = 256
_ASCII_DIGITS: Final = "0123456789"
_DIGIT_RUN: Final = re.compile(r"[0-9]+")
# How far before an amount's first digit its currency marker ("AUD$ ") and bound word ("starting
# from: ") can begin.
_MARKER_REACH: Final = 8
_MARKER_LAST_CHARS: Final = frozenset("$£€¥￥₹₩₱₪₺₫₦฿.")
_BOUND_REACH: Final = 24
# How far before an amount a period word ("Hourly rate: ") is looked for.
_LEADING_REACH: Final = 60

_PERIOD_WORDS: Final = {
    "hour": "hour", "hours": "hour", "hr": "hour", "hrs": "hour", "h": "hour", "hourly": "hour",
    "ph": "hour", "day": "day", "days": "day", "daily": "day", "pd": "day", "week": "week",
    "weeks": "week", "wk": "week", "wks": "week", "weekly": "week", "pw": "week", "month": "month",
    "months": "month", "mo": "month", "mos": "month", "mth": "month", "mths": "month",
    "monthly": "month", "pm": "month", "year": "year", "years": "year", "yr": "year",
    "yrs": "year", "annum": "year", "annual": "year", "annually": "year", "yearly": "year",
    "pa": "year",
}  # fmt: skip

_SYMBOL_RE: Final = "|".join(re.escape(s) for s in sorted(_SYMBOLS, key=len, reverse=True))
_CODE_RE: Final = "|".join(sorted(_CODES | set(_CODE_ALIASES)))
# Each alternation is guarded by a lookahead on its first character: Python's engine tries
# alternatives one by one, and most positions it is asked about start with a space or a letter.
_CURRENCY: Final = (
    rf"(?=[A-Z$£€¥￥₹₩₱₪₺₫₦฿])(?:(?<![A-Za-z])(?=[A-Z]{{3}})(?:{_CODE_RE})(?![A-Za-z])|{_SYMBOL_RE})"
)
_SUFFIX_CURRENCY: Final = (
    rf"(?=[A-Z€£z₹$])(?:(?<![A-Za-z])(?=[A-Z]{{3}})(?:{_CODE_RE})(?![A-Za-z])|€|£|zł|₹|\$)"
)
# Thousands groups: `120,000`, Indian `12,00,000`, European `45.000`, spaced `45 000`.
_NUMBER: Final = (
    r"(?:\d{1,3}(?:(?:[,.]\d{2,3}|[\u00a0\u202f\u2009 ']\d{3})(?!\d))+(?:[.,]\d{1,2}(?!\d))?"
    r"|\d+(?:[.,]\d{1,2}(?!\d))?)"
)
_NUMBER_END: Final = r"(?![\d]|[.,]\d)"  # never stop part-way through a number
_THOUSANDS: Final = r"(?:\s?(?:[kK](?![A-Za-z])|thousand\b))"
_LARGE: Final = r"(?:\s?(?:[mMbB](?![A-Za-z])|mn\b|bn\b|million\b|billion\b))"
_PERIOD: Final = (
    r"(?=\s*[,(]?\s*[/pPaAeEhHdDwWmMyY])(?:\s*[,(]?\s*(?i:"
    r"(?:/|\bper\b|\ban?\b|\beach\b|\bevery\b)\s*(?P<@unit>hours?|hrs?|h|days?|weeks?|wks?|months?"
    r"|mos?|mths?|years?|yrs?|annum)\b"
    r"|(?P<@adverb>hourly|daily|weekly|monthly|annually|annual|yearly)\b"
    r"|(?P<@abbr>p\.?\s?[hdwma]\.?+(?!\w))"
    r")\)?)"
)
_BOUND_BEFORE: Final = re.compile(
    r"(?i:\b(?P<bound>up\s+to|max(?:imum)?(?:\s+of)?|from|starting\s+(?:at|from)|min(?:imum)?(?:\s+of)?"
    r"|at\s+least))\s*:?\s*$"
)
_SEPARATOR: Final = r"(?=\s*[-–—‑~tTaA])\s*(?:-|–|—|‑|~|(?i:to|and))\s*"
_AMOUNT: Final = (
    rf"(?P<cur@>{_CURRENCY})?\s?(?P<num@>{_NUMBER}){_NUMBER_END}(?P<k@>{_THOUSANDS})?(?!{_LARGE})"
    rf"(?:\s?(?P<suf@>{_SUFFIX_CURRENCY}))?"
)

_CURRENCY_BEFORE: Final = re.compile(rf"(?:{_CURRENCY})\s?$")
_CANDIDATE: Final = re.compile(
    r"(?<![\w.,])"
    + _AMOUNT.replace("@", "1")
    + f"(?:{_PERIOD.replace('@', 'p1')})?"
    + f"(?:{_SEPARATOR}{_AMOUNT.replace('@', '2')})?"
    + r"(?P<plus>\+)?"
    + f"(?:{_PERIOD.replace('@', 'p2')})?"
)
_FIRST_NUMBER_GROUP: Final = _CANDIDATE.groupindex["num1"]
_LEADING_PERIOD: Final = re.compile(
    r"(?i:\b(?P<word>hourly|daily|weekly|monthly|annual|annually|yearly"
    r"|per\s+(?:hour|day|week|month|year|annum))\b)[^.$€£\d]{0,30}$"
)
# Words around an amount that show it is not pay (a budget, a bonus, a funding round).
_NOT_PAY: Final = re.compile(
    r"(?i:bonus|budget|allowance|credit|gift|reimburs|relocation|equity|funding|raised|revenue|"
    r"valuation|match|learning|wellness|education|training|referral|stipend\s+for|per\s+employee|"
    r"users|customers|employees)"
)


@dataclass(frozen=True, slots=True)
class _Candidate:
    """One amount or range found in the text, before choosing which one is the pay."""

    salary: Salary
    has_period: bool
    is_range: bool
    start: int


def parse_salary_text(text: str | None, *, default_currency: str | None = None) -> Salary | None:
    """The pay range a text states, or None.

    Only amounts tied to a currency marker or to a pay period count, so "401(k)", "2026" and
    "5+ years" never become pay. When a text holds several amounts the one with a period (or
    a range) wins over stray figures such as a "$500 learning budget". Amounts are returned as
    written: never annualised, never converted.
    """
    if not text:
        return None
    first = _first_digit(text)
    if first < 0:
        return None  # amounts are only ever read at an ASCII digit
    if len(text) <= _CACHED_LENGTH:
        return _parse_short(text, default_currency)  # salary fields repeat across postings
    return _parse(text, default_currency, first)


def _parse(text: str, default_currency: str | None, first: int | None = None) -> Salary | None:
    """The best candidate; `first` is where the first digit is, when the caller has found it."""
    default = _currency_code(default_currency)
    best: _Candidate | None = None
    for count, match in enumerate(_matches(text, _first_digit(text) if first is None else first)):
        if count >= _MAX_CANDIDATES:
            break  # pay is stated early; a wall of figures is a table, not an offer
        candidate = _candidate(match, text, default)
        if candidate is not None and (best is None or _rank(candidate) > _rank(best)):
            best = candidate
    return best.salary if best else None


_parse_short: Final = lru_cache(maxsize=8192)(_parse)


def _matches(text: str, first: int) -> Iterator[re.Match[str]]:
    """Every amount-shaped match at or after `first` (the first digit), tried only where a digit
    run (or its currency marker) begins.

    Every pay amount contains a digit, so matching at every position of a long description
    would be wasted work; so would a regex search for a marker before each of its numbers.
    """
    if first < 0:
        return
    covered = 0
    for digits in _DIGIT_RUN.finditer(text, first):
        position = digits.start()
        if position < covered:
            continue  # the second half of a range, or the rest of "120,000"
        match = None
        if _may_follow_marker(text, position):
            marker = _CURRENCY_BEFORE.search(text, max(0, position - _MARKER_REACH), position)
            match = marker and _CANDIDATE.match(text, marker.start())
        match = match or _CANDIDATE.match(text, position)
        if match is not None:
            covered = match.end()
            yield match


def _first_digit(text: str) -> int:
    """Where the first ASCII digit is, or -1.

    Descriptions are mostly words: ten C-level `find`s skip them far faster than a regex scan,
    which costs more than the rest of reading the pay when the only figures come last; sorting
    their ten answers keeps the rest in C too.
    """
    found = sorted(map(text.find, _ASCII_DIGITS))
    first = bisect_right(found, -1)
    return found[first] if first < len(found) else -1


def _may_follow_marker(text: str, position: int) -> bool:
    before = text[max(0, position - 4) : position].rstrip()
    return bool(before) and (
        before[-1] in _MARKER_LAST_CHARS or before[-1].isupper() or before.endswith("Rs")
    )


def salary_from_range(
    minimum: Any, maximum: Any, currency: str | None, interval: str | None, text: str | None = None
) -> Salary | None:
    """A structured range (Lever `salaryRange`, Ashby tiers, schema.org `baseSalary`) as a Salary.

    Boards send bounds as numbers or numeric strings and periods in their own vocabulary
    ("per-year-salary", "1 HOUR", "YEAR"); None when neither bound is a usable amount.
    """
    low, high = _number(minimum), _number(maximum)
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        low, high = high, low
    code = _currency_code(currency)
    if code is None and isinstance(currency, str):
        symbol = _SYMBOLS.get(currency.strip())
        code = "USD" if symbol == "$" else symbol
    return Salary(min=low, max=high, currency=code, period=_period_from(interval), text=text or None)


def _period_from(value: str | None) -> str | None:
    """Map a board's pay-interval vocabulary onto hour/day/week/month/year (None for one-off pay)."""
    if not value or not isinstance(value, str):
        return None
    words = re.findall(r"[a-z]+", value.lower())
    for word in words:
        period = _PERIOD_WORDS.get(word)
        if period is not None and word not in {"h", "pm", "pa", "pd", "ph", "pw"}:
            return period
    return None


def _candidate(match: re.Match[str], text: str, default: str | None) -> _Candidate | None:
    if match.lastindex == _FIRST_NUMBER_GROUP and match.group("cur1") is None:
        return None  # a bare number and nothing after it: the common case in a description
    groups = match.groupdict()
    marker = groups["cur1"] or groups["suf1"] or groups["cur2"] or groups["suf2"]
    period = _match_period(groups, "p1") or _match_period(groups, "p2")
    abbreviated = _is_abbreviated(groups, "p1") or _is_abbreviated(groups, "p2")
    if marker is None and (period is None or abbreviated):
        return None  # a bare number: "5 years", "2026", "p.m." as a time of day
    low, high = _amount(groups["num1"], groups["k1"]), _amount(groups["num2"], groups["k2"])
    if low is None or low <= 0 or (high is not None and high <= 0):
        return None
    if high is not None and bool(groups["k1"]) != bool(groups["k2"]):
        # "$120-150K" and "€45k-55": one K serves both ends when that keeps the range ordered.
        if groups["k2"] and low * 1000 <= high:
            low *= 1000
        elif groups["k1"] and high * 1000 >= low:
            high *= 1000
    currency = _marker_currency(marker, default) if marker else default
    if period is None and marker is not None:
        period = _leading_period(text[max(0, match.start() - _LEADING_REACH) : match.start()])
    if period is None and high is None and _looks_like_other_money(text, match):
        return None  # a lone figure with no period beside "budget", "bonus", "raised"…
    if period is None and _implies_year(groups, low, high, currency):
        period = "year"
    if high is not None and high < low:
        low, high = high, low
    bound = _BOUND_BEFORE.search(text, max(0, match.start() - _BOUND_REACH), match.start())
    word = bound.group("bound") if bound else None
    minimum, maximum = _bounds(low, high, word, bool(groups["plus"]))
    start = bound.start() if bound else match.start()
    snippet = text[start : match.end()].strip(" ,(")
    salary = Salary(min=minimum, max=maximum, currency=currency, period=period, text=snippet)
    return _Candidate(salary, period is not None, high is not None, match.start())


def _rank(candidate: _Candidate) -> tuple[bool, bool, int]:
    return candidate.has_period, candidate.is_range, -candidate.start


#: The period groups of each side of a range by prefix, named once rather than per candidate.
_PERIOD_GROUPS: Final = {
    prefix: (f"{prefix}unit", f"{prefix}adverb", f"{prefix}abbr") for prefix in ("p1", "p2")
}


def _match_period(groups: dict[str, str | None], prefix: str) -> str | None:
    unit, adverb, abbreviation = _PERIOD_GROUPS[prefix]
    word = groups[unit] or groups[adverb]
    if word:
        return _PERIOD_WORDS.get(word.lower())
    abbr = groups[abbreviation]
    if abbr:
        return _PERIOD_WORDS.get(re.sub(r"[^a-z]", "", abbr.lower()))
    return None


def _is_abbreviated(groups: dict[str, str | None], prefix: str) -> bool:
    """`p.m.`/`pa` alone are too ambiguous (times, "Pennsylvania") to make a bare number pay."""
    unit, adverb, abbreviation = _PERIOD_GROUPS[prefix]
    return bool(groups[abbreviation]) and not groups[unit] and not groups[adverb]


def _leading_period(before: str) -> str | None:
    """A period stated just ahead of the amount: "Hourly rate: $45", "Annual salary $90,000"."""
    found = _LEADING_PERIOD.search(before[-_LEADING_REACH:])
    if not found:
        return None
    return _PERIOD_WORDS.get(found.group("word").lower().split()[-1])


def _implies_year(
    groups: dict[str, str | None], low: float, high: float | None, currency: str | None
) -> bool:
    if groups["k1"] or groups["k2"]:
        return True
    return currency in _YEARLY_BY_SIZE and max(low, high or 0) >= _YEARLY_THRESHOLD


def _bounds(
    low: float, high: float | None, bound: str | None, plus: bool
) -> tuple[float | None, float | None]:
    if high is not None:
        return low, high
    word = (bound or "").lower()
    if word.startswith(("up", "to", "max")):
        return None, low
    if plus or word.startswith(("from", "start", "min", "at")):
        return low, None
    return low, low


def _looks_like_other_money(text: str, match: re.Match[str]) -> bool:
    around = text[max(0, match.start() - 25) : match.start()] + " " + text[match.end() : match.end() + 25]
    return bool(_NOT_PAY.search(around))


def _marker_currency(marker: str, default: str | None) -> str | None:
    marker = marker.strip()
    if marker in _CODES:
        return marker
    if marker in _CODE_ALIASES:
        return _CODE_ALIASES[marker]
    code = _SYMBOLS.get(marker)
    if code == "$":
        return default if default in _DOLLAR_CURRENCIES else "USD"
    if code == "JPY" and default == "CNY":
        return "CNY"
    return code


def _currency_code(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    code = value.strip().upper()
    code = _CODE_ALIASES.get(code, code)
    return code if re.fullmatch(r"[A-Z]{3}", code) else None


def _amount(digits: str | None, thousands: str | None) -> float | None:
    """Read `120,000`, `12,00,000`, `45.000`, `1.234,56`, `27.50` as the number they mean."""
    if not digits:
        return None
    compact = digits if digits.isdigit() else re.sub(r"[\s\u00a0\u202f\u2009']", "", digits)
    if "," in compact and "." in compact:
        decimal = "," if compact.rfind(",") > compact.rfind(".") else "."
        grouping = "." if decimal == "," else ","
        compact = compact.replace(grouping, "").replace(decimal, ".")
    else:
        for sep in ",.":
            pieces = compact.split(sep)
            if len(pieces) > 1:
                is_decimal = len(pieces) == 2 and len(pieces[1]) in (1, 2)
                compact = compact.replace(sep, ".") if is_decimal else compact.replace(sep, "")
    try:
        value = float(compact)
    except ValueError:
        return None
    return value * 1000 if thousands else value


def _number(value: Any) -> float | None:
    """A finite, non-negative amount from a number or numeric string ("50000.0", "$50,000")."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        number = float(value)
    elif isinstance(value, str):
        cleaned = re.sub(r"[^\d.\-]", "", value.replace(",", ""))
        try:
            number = float(Decimal(cleaned)) if cleaned else math.nan
        except InvalidOperation:
            return None
        if re.search(r"\d\s*[kK]\b", value):
            number *= 1000
    else:
        return None
    if math.isnan(number) or math.isinf(number) or number < 0:
        return None
    return number
