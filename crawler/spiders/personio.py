"""Personio's XML job feed: every position of a company in one `GET /xml?language=<language>`."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from html import escape
from typing import Any
from urllib.parse import quote

from lxml import etree
from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.spider import Board, BoardSpider, ListingError, required_text
from crawler.types.personio import Options
from rolewatch.domain import Posting, WorkRights

ROOT_TAG = "workzag-jobs"
POSITION_TAG = "position"
#: Children that are lists even when empty or holding one item.
LIST_TAGS = frozenset({"additionalOffices", "jobDescriptions"})
#: Board fields that are not part of the normalised posting but worth keeping.
EXTRA_FIELDS = (
    "subcompany", "recruitingCategory", "employmentType", "seniority", "schedule", "yearsOfExperience",
    "keywords", "occupation", "occupationCategory", "createdAt",
)  # fmt: skip
#: `employmentType` values that say more than the hours do.
SPECIFIC_TYPES = frozenset({"intern", "trainee", "freelance"})
#: `seniority` values that say who a permanent role is for: students are working students
#: (Werkstudenten) and entry-level roles (Berufseinsteiger) are the graduate roles.
SENIORITY_TYPES = {"student": "working student", "entry-level": "graduate"}
#: The safe parser: no network, no DTD, no entity expansion (billion laughs, XXE), no giant trees.
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


class PersonioSpider(BoardSpider[Options]):
    """One request per company; the feed is XML, parsed with a parser that resolves nothing.

    Each `<position>` becomes a plain dict (tag → text, offices and descriptions as lists)
    before it is normalised, so its raw digest is stable and `to_posting` never sees lxml.
    """

    name = "personio"
    conditional = True

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        root = board.base_url(_default_root(board))
        yield Request(
            f"{root}/xml?language={board.options.language}",
            headers={"Accept": "application/xml, text/xml;q=0.9, */*;q=0.1"},
        )

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        return [position_record(element) for element in feed_positions(response)]

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        position: Mapping[str, Any] = record
        title = required_text(position, "name")
        external_id = required_text(position, "id")
        html = sanitize_html(_description_html(position.get("jobDescriptions")))
        text = html_to_text(html)
        sponsorship = sponsorship_from_text(text)
        offices = [position.get("office"), *(position.get("additionalOffices") or ())]
        locations = parse_locations(
            [o for o in offices if isinstance(o, str)], country_hint=board.options.country
        )
        url = f"{board.base_url(_default_root(board))}/job/{quote(external_id, safe='')}"
        url += f"?language={board.options.language}"
        return Posting(
            source=board.name,
            external_id=external_id,
            title=title,
            url=url,
            apply_url=url,
            company=board.options.company_name
            or clean_text(position.get("subcompany"))
            or board.options.company,
            department=clean_text(position.get("department")) or None,
            locations=locations,
            workplace="remote" if locations and all(place.remote for place in locations) else None,
            employment_type=employment_type(_board_employment(position), title),
            salary=parse_salary_text(text),
            posted_at=parse_datetime(position.get("createdAt")),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra={key: position[key] for key in EXTRA_FIELDS if position.get(key) not in (None, "")},
        )


def feed_positions(response: Response) -> list[Any]:
    """The `<position>` elements of a feed, or a ListingError saying what came instead."""
    body = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")
    raw_type = response.headers.get(b"Content-Type") or b""
    content_type = raw_type.decode("latin-1").split(";")[0].strip().lower()
    if not body:
        raise ListingError("response is not the XML feed (the body is empty)")
    if "html" in content_type or body[:14].lower().startswith((b"<!doctype html", b"<html")):
        served = content_type if "html" in content_type else f"HTML served as {content_type or 'nothing'}"
        raise ListingError(f"response is not the XML feed ({served}: a maintenance or error page?)")
    if not body.startswith(b"<"):
        raise ListingError(f"response is not XML ({content_type or 'no content type'})")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise ListingError(f"malformed XML: {exc}") from None
    if root is None or etree.QName(root).localname != ROOT_TAG:
        tag = etree.QName(root).localname if root is not None else "nothing"
        raise ListingError(f"XML root is <{tag}>, not the <{ROOT_TAG}> job feed")
    return [child for child in root if _tag(child) == POSITION_TAG]


def position_record(element: Any) -> dict[str, Any]:
    """One `<position>` as a plain dict: leaf tags as text, offices and descriptions as lists."""
    record: dict[str, Any] = {}
    for child in element:
        tag = _tag(child)
        if tag is None:
            continue
        if tag == "jobDescriptions":
            value: Any = [_job_description(item) for item in child if _tag(item) == "jobDescription"]
        elif tag in LIST_TAGS:
            value = [_text(item) for item in child if _tag(item) is not None]
        else:
            value = _plain(child)
        record[tag] = value
    return record


def _job_description(element: Any) -> dict[str, str]:
    """`<name>` is the section heading; `<value>` is HTML, normally in CDATA, kept as markup."""
    name = next((item for item in element if _tag(item) == "name"), None)
    value = next((item for item in element if _tag(item) == "value"), None)
    return {
        "name": _text(name) if name is not None else "",
        "value": _inner(value) if value is not None else "",
    }


def _plain(element: Any) -> Any:
    """A leaf as its text; anything nested as a dict (or a list, when the children repeat one tag)."""
    children = [child for child in element if _tag(child) is not None]
    if not children:
        return _text(element)
    tags = [_tag(child) for child in children]
    if len(children) > 1 and len(set(tags)) == 1:
        return [_plain(child) for child in children]
    return {tag: _plain(child) for tag, child in zip(tags, children, strict=True)}


def _text(element: Any) -> str:
    return "".join(element.itertext()).strip()


def _inner(element: Any) -> str:
    """The element's content as markup: CDATA text as it is, inline (X)HTML serialised."""
    parts = [element.text or ""]
    parts += [etree.tostring(child, encoding="unicode", with_tail=True) for child in element]
    return "".join(parts).strip()


def _tag(element: Any) -> str | None:
    """The local name of an element; None for comments, entities and processing instructions."""
    return etree.QName(element).localname if isinstance(element.tag, str) else None


def _description_html(sections: Any) -> str:
    """Each `<jobDescription>` as its heading and its HTML, in feed order."""
    parts = []
    for section in sections or ():
        if isinstance(section, Mapping):
            heading = clean_text(section.get("name"))
            parts.append((f"<h3>{escape(heading)}</h3>" if heading else "") + (section.get("value") or ""))
    return "".join(parts)


def _board_employment(position: Mapping[str, Any]) -> str | None:
    """The board's words for the contract: `employmentType`, then `seniority`, then `schedule`.

    `permanent` says nothing about who a role is for, so a student or entry-level seniority
    decides it; otherwise the schedule gives full or part time.
    """
    kind = clean_text(position.get("employmentType")).lower()
    if kind in SPECIFIC_TYPES:
        return kind
    seniority = SENIORITY_TYPES.get(clean_text(position.get("seniority")).lower())
    if seniority:
        return seniority
    schedule = clean_text(position.get("schedule")).lower()
    if schedule in ("full-time", "part-time"):
        return schedule
    return kind or None


def _default_root(board: Board[Options]) -> str:
    return f"https://{quote(board.options.company.lower(), safe='')}.jobs.personio.de"
