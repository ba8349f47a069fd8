"""schema.org JobPosting markup as a Posting: read the same way from a `jsonld` page and a `feed` item."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pycountry

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html, unescape_entities
from crawler.normalize.urls import canonical_url
from crawler.spider import PostingError
from rolewatch.domain import Location, Posting, Salary, WorkRights

#: JobPosting properties that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = (
    "industry", "occupationalCategory", "directApply", "jobLocationType", "workHours", "jobStartDate",
    "experienceRequirements", "educationRequirements",
)  # fmt: skip
_ESCAPED_MARKUP = re.compile(r"&lt;/?[a-zA-Z][a-zA-Z0-9]*(?:\s[^&]*)?/?&gt;")
_ENTITY = re.compile(r"&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


def posting_from_jsonld(
    posting: Mapping[str, Any],
    *,
    source: str,
    external_id: str,
    page: str | None,
    company: str | None = None,
    now: datetime | None = None,
) -> Posting:
    """One schema.org JobPosting as a Posting; a `validThrough` already past closes it."""
    title = _clean(text_of(posting.get("title")) or text_of(posting.get("name")))
    if not title:
        raise PostingError("'title' is missing or blank")
    markup = sanitize_html(description_html(posting.get("description")))
    text = html_to_text(markup)
    url = canonical_url(text_of(posting.get("url")) or None, base=page) or canonical_url(page)
    locations, remote = locations_of(posting)
    deadline = parse_datetime(text_of(posting.get("validThrough")) or None)
    sponsorship = sponsorship_from_text(text)
    extra = {key: posting[key] for key in EXTRA_FIELDS if posting.get(key) not in (None, "", [])}
    if page and canonical_url(page) != url:
        extra["page"] = page
    return Posting(
        source=source,
        external_id=external_id,
        title=title,
        url=url,
        apply_url=url,
        company=company_of(posting) or company,
        locations=locations,
        workplace="remote" if remote else None,
        employment_type=employment_type(", ".join(texts_of(posting.get("employmentType"))) or None, title),
        salary=salary_of(posting),
        posted_at=parse_datetime(text_of(posting.get("datePosted")) or None),
        deadline=deadline,
        work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
        description_text=text,
        description_html=markup,
        extra=extra,
        closed=deadline is not None and deadline < (now or datetime.now(UTC)),
    )


def description_html(value: Any) -> str:
    """The description as HTML; one that arrives entity-escaped (`&lt;p&gt;`) is unescaped once."""
    text = value if isinstance(value, str) else text_of(value)
    if "<" not in text and _ESCAPED_MARKUP.search(text):
        return unescape_entities(text)
    return text


def company_of(posting: Mapping[str, Any]) -> str | None:
    organization = first_of(posting.get("hiringOrganization"))
    name = organization.get("name") if isinstance(organization, Mapping) else organization
    return _clean(text_of(name)) or None


def locations_of(posting: Mapping[str, Any]) -> tuple[tuple[Location, ...], bool]:
    """Places from `jobLocation`, remote areas from `applicantLocationRequirements`; and whether remote."""
    remote = any("telecommute" in value.lower() for value in texts_of(posting.get("jobLocationType")))
    found: dict[Location, None] = {}
    for place in as_list(posting.get("jobLocation")):
        found.update(dict.fromkeys(_place(place)))
    areas = [text_of(area.get("name") if isinstance(area, Mapping) else area)
             for area in as_list(posting.get("applicantLocationRequirements"))]  # fmt: skip
    if remote:
        for area in filter(None, areas):
            found.update(dict.fromkeys(parse_locations(f"Remote, {area}")))
        if not any(location.remote for location in found):
            found[Location("Remote", remote=True)] = None
    return tuple(found), remote


def _place(place: Any) -> tuple[Location, ...]:
    """One Place: its PostalAddress read as "locality, region" with the country code as the hint."""
    if isinstance(place, str):
        return parse_locations(place)
    if not isinstance(place, Mapping):
        return ()
    address = first_of(place.get("address"))
    if isinstance(address, str):
        return parse_locations(address)
    if not isinstance(address, Mapping):
        name = text_of(place.get("name"))
        return parse_locations(name) if name else ()
    locality = clean_text(text_of(address.get("addressLocality")))
    region = clean_text(text_of(address.get("addressRegion")))
    country = country_code(address.get("addressCountry"))
    text = ", ".join(part for part in (locality, region) if part)
    if not text:
        named = country_name(address.get("addressCountry"))
        return parse_locations(named) if named else ()
    for attempt in (text, locality):
        found = parse_locations(attempt, country_hint=country) if attempt else ()
        if (
            found
            and (found[0].city or not locality)
            and (country is None or found[0].country in (country, None))
        ):
            best = found[0]
            return (Location(best.name, best.city, best.region, best.country or country, best.remote),)
    return (Location(locality or text, city=locality or None, country=country),)


def country_code(value: Any) -> str | None:
    """ISO 3166 alpha-2 from a code ("ES", "ESP"), a name ("United States") or a Country object.

    A short string is only ever read as a code: "B" is a stray letter, not some country's region.
    """
    name = country_name(value)
    code = name.upper()
    country = None
    if len(code) == 2:
        country = pycountry.countries.get(alpha_2="GB" if code == "UK" else code)
    elif len(code) == 3:
        country = pycountry.countries.get(alpha_3=code)
    if country is not None:
        return str(country.alpha_2)
    if len(code) <= 3:
        return None
    try:
        return str(pycountry.countries.lookup(name).alpha_2)
    except LookupError:
        found = parse_locations(name)
        only = found[0] if len(found) == 1 else None
        return only.country if only and not only.city and not only.region else None


def country_name(value: Any) -> str:
    value = first_of(value)
    if isinstance(value, Mapping):
        value = value.get("name") or value.get("identifier")
    return clean_text(text_of(value))


def salary_of(posting: Mapping[str, Any]) -> Salary | None:
    """`baseSalary` (else `estimatedSalary`) exactly as offered, in its own `unitText` period."""
    for key in ("baseSalary", "estimatedSalary"):
        for amount in as_list(posting.get(key)):
            salary = _money(amount, text_of(posting.get("salaryCurrency")) or None)
            if salary is not None:
                return salary
    return None


def _money(amount: Any, currency: str | None) -> Salary | None:
    if isinstance(amount, bool):
        return None
    if isinstance(amount, int | float):
        return salary_from_range(amount, amount, currency, None)
    if isinstance(amount, str):
        return parse_salary_text(amount, default_currency=currency) or salary_from_range(
            amount, amount, currency, None
        )
    if not isinstance(amount, Mapping):
        return None
    currency = text_of(amount.get("currency")) or currency
    value, unit = amount.get("value"), text_of(amount.get("unitText")) or None
    if isinstance(value, Mapping):  # a QuantitativeValue: one value, or minValue and maxValue
        unit = text_of(value.get("unitText")) or unit
        low, high = value.get("minValue"), value.get("maxValue")
        if low is None and high is None:
            low = high = value.get("value")
        if low is None and high is None:  # the bounds written beside it, on the MonetaryAmount
            low, high = amount.get("minValue"), amount.get("maxValue")
    else:
        low, high = amount.get("minValue", value), amount.get("maxValue", value)
    return salary_from_range(low, high, currency, unit)


def as_list(value: Any) -> list[Any]:
    """A property that may be one value or several, as a list (absent: empty)."""
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


def first_of(value: Any) -> Any:
    """A property's first value; sites give one where schema.org allows several."""
    items = as_list(value)
    return items[0] if items else None


def text_of(value: Any) -> str:
    """A property as text: strings as they are, numbers written out, a language value's `@value`."""
    value = first_of(value)
    if isinstance(value, Mapping):
        value = value.get("@value")
    if isinstance(value, bool) or value is None:
        return ""
    return str(value) if isinstance(value, str | int | float) else ""


def texts_of(value: Any) -> list[str]:
    """Every value of a property as text, the empty ones left out."""
    return [text for item in as_list(value) if (text := text_of(item))]


def _clean(value: str) -> str:
    """Whitespace-normalised, with entities a site escaped into plain text ("R&amp;D") decoded once."""
    return clean_text(unescape_entities(value) if _ENTITY.search(value) else value)
