"""RSS, Atom and JSON Feed job feeds: one conditional request; a feed is a window, so absence never closes."""

from __future__ import annotations

import json
import re
import xml.sax
from collections.abc import Iterable, Mapping
from datetime import timedelta
from html import escape
from typing import Any
from urllib.parse import urljoin

import feedparser
from scrapy import Request
from scrapy.http import Response

from crawler.normalize.dates import parse_datetime
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_from
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text, salary_from_range
from crawler.normalize.text import clean_text, html_to_text, sanitize_html
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, ListingError, PostingError, quoted_json
from crawler.spiders._cutoff import check_xml_whole
from crawler.spiders._jobposting import posting_from_jsonld
from crawler.types.feed import Options
from rolewatch.domain import Posting, Salary, WorkRights

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, "
    "application/json;q=0.8, text/xml;q=0.8, */*;q=0.5"
)
JSON_FEED = "https://jsonfeed.org/version/"
# Item fields by tag name, first non-empty wins. feedparser names a namespaced element
# `<prefix>_<tag>` in lower case (`joblisting_location`), and each feed picks its own prefix, so a
# name here also matches `<any prefix>_<name>`.
#: The location, when `location_field` is not given.
LOCATION_FIELDS = ("location", "region")
#: The kind of contract, trusted before the item's category tags.
TYPE_FIELDS = ("type", "jobtype", "employmenttype", "employment_type", "job_type")
DEADLINE_FIELDS = ("expires_at", "expires", "validthrough", "valid_through", "closing_date", "deadline",
                   "advertisetodatetimeutc")  # fmt: skip
DEPARTMENT_FIELDS = ("department",)
#: feedparser's own keys for an entry: everything else an item carries is the feed's, kept in `extra`.
STANDARD_KEYS = frozenset(
    {
        "id", "guidislink", "link", "links", "title", "title_detail", "summary", "summary_detail",
        "content", "published", "updated", "created", "author", "author_detail", "authors",
        "contributors", "tags", "media_content", "media_thumbnail", "enclosures", "comments",
        "publisher", "publisher_detail", "source", "license", "rights", "rights_detail",
        "href", "credit", "media_credit", "expired",
    }
)  # fmt: skip
_AUTHOR_EMAIL = re.compile(r"^\s*\S+@\S+\s*\((?P<name>[^)]+)\)\s*$")
_ODD_SECONDS = re.compile(r"(\d{1,2}:\d{2}:\d{2}):\d+\s*$")  # NEOGOV: "Sun, 20 Sep 2026 04:59:00:0"
_MAX_EXTRA_CHARS = 2000


class FeedSpider(BoardSpider[Options]):
    """One request for the whole feed, sent conditionally; items that scroll out of the window stay open.

    A feed holds only its newest items, so a missing item has not necessarily closed: the
    type declares `closes_by_absence = False`, and the diff closes an item only once it has
    gone unseen for `max_age`, or when the item itself says so (a past `expires_at`).
    """

    name = "feed"
    conditional = True
    closes_by_absence = False

    def absence_max_age(self, board: Board[Options]) -> timedelta | None:
        return board.options.max_age

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        url = board.options.url
        if "://" not in url and board.options.base_url:
            url = urljoin(board.options.base_url.rstrip("/") + "/", url.lstrip("/"))
        yield Request(url, headers={"Accept": ACCEPT})

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        yield from read_feed(response)
        if not _is_json(response):
            # feedparser reads a feed cut off mid-transfer without complaint; its items are kept,
            # but a complete crawl would age out the items it lost.
            check_xml_whole(response.body)

    def record_id(self, record: Any) -> str | None:
        return (item_identity(record) or None) if isinstance(record, Mapping) else None

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        item: Mapping[str, Any] = record["item"]
        external_id = item_identity(record)
        if not external_id:
            raise PostingError("the item has no guid, id or link")
        fields = _json_fields(item) if record["format"] == "json" else _xml_fields(item)
        return _posting(board, external_id, item, fields)


# --- reading the feed ------------------------------------------------------------------------------


def read_feed(response: Response) -> list[dict[str, Any]]:
    """Raw records, one per item: `{"format": "json" | "rss20" | "atom10" | …, "item": {...}}`."""
    body = response.body
    if not body.strip():
        raise ListingError("response is not a feed (the body is empty)")
    content_type = _content_type(response)
    if _is_json(response):
        return _json_feed(body)
    parsed = feedparser.parse(
        body,
        response_headers={
            "content-type": content_type or "application/xml",
            "content-location": response.url,
        },
    )
    if not parsed.get("version"):
        looks_html = "html" in content_type or body.lstrip()[:15].lower().startswith(
            (b"<!doctype html", b"<html")
        )
        what = "an HTML page" if looks_html else _bozo(parsed) or "no RSS, Atom or JSON Feed markup"
        raise ListingError(f"response is not a feed ({what})")
    if not parsed.entries and isinstance(parsed.get("bozo_exception"), xml.sax.SAXException):
        raise ListingError(f"the feed could not be parsed ({_bozo(parsed)})")
    # A feed the lenient parser read only in part (bozo) is still read: absence alone closes nothing
    # here, and a feed cut off before its end tag makes the crawl partial (FeedSpider.parse_listing).
    return [_record(parsed.version, _plain(entry)) for entry in parsed.entries]


def _is_json(response: Response) -> bool:
    """A JSON Feed (or JSON of another shape) rather than RSS or Atom."""
    return response.body.lstrip()[:1] in (b"{", b"[") or "json" in _content_type(response)


def _json_feed(body: bytes) -> list[dict[str, Any]]:
    """A JSON Feed's items; JSON of any other shape (an API's error object, say) is a ListingError."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ListingError(f"response is not a feed (JSON that does not parse: {exc})") from None
    version = data.get("version") if isinstance(data, dict) else None
    if not isinstance(version, str) or not version.startswith(JSON_FEED):
        raise ListingError(f"response is not a feed (JSON without a jsonfeed.org version: {_brief(data)})")
    items = data.get("items")
    if not isinstance(items, list):
        raise ListingError('the JSON Feed has no "items" list')
    author = _json_author(data)
    return [
        _record("json", {**({"_feed_author": author} if author else {}), **item})
        for item in items
        if isinstance(item, dict)
    ]


def _record(kind: str, item: dict[str, Any]) -> dict[str, Any]:
    """The raw record of one item: its format tells `to_posting` which names its fields go by."""
    record = {"format": kind, "item": item}
    return {**record, "id": item_identity(record) or None}  # `id` names the item in messages


def item_identity(record: Mapping[str, Any]) -> str:
    """The item's own id (RSS `guid`, Atom `id`, JSON Feed `id`), else its canonical link."""
    item: Mapping[str, Any] = record["item"]
    own = item.get("id")
    if isinstance(own, int | float) and not isinstance(own, bool):
        own = str(own)
    if isinstance(own, str) and own.strip():
        return clean_text(own)
    link = (item.get("url") or item.get("external_url")) if record["format"] == "json" else item.get("link")
    return canonical_url(link if isinstance(link, str) else None) or ""


def _plain(value: Any) -> Any:
    """feedparser's entry as plain JSON data: no `*_parsed` time tuples, dict subclasses flattened."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if not str(k).endswith("_parsed")}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


# --- one item as a Posting -------------------------------------------------------------------------


def _xml_fields(entry: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of an RSS/Atom entry the posting needs, by feedparser's names."""
    title = str(entry.get("title") or "")
    if "html" in str((entry.get("title_detail") or {}).get("type") or ""):
        title = html_to_text(title)
    content = [part for part in entry.get("content") or [] if isinstance(part, Mapping) and part.get("value")]
    markup = str(content[0]["value"]) if content else str(entry.get("summary") or "")
    if content and "html" not in str(content[0].get("type") or "html"):
        markup = _paragraphs(markup)
    return {
        "title": title,
        "url": entry.get("link"),
        "html": markup,
        "posted": entry.get("published") or entry.get("updated"),
        "author": _author_name(entry),
        "tags": [str(tag.get("term") or "") for tag in entry.get("tags") or [] if isinstance(tag, Mapping)],
        "embedded": None,
    }


def _json_fields(item: Mapping[str, Any]) -> dict[str, Any]:
    """The parts of a JSON Feed item the posting needs; Teamtailor embeds JSON-LD as `_jobposting`."""
    markup = item.get("content_html")
    if not isinstance(markup, str) or not markup.strip():
        text = item.get("content_text") or item.get("summary") or ""
        markup = _paragraphs(str(text))
    embedded = item.get("_jobposting")
    return {
        "title": item.get("title") if isinstance(item.get("title"), str) else "",
        "url": item.get("url") or item.get("external_url"),
        "html": markup,
        "posted": item.get("date_published") or item.get("date_modified"),
        "author": _json_author(item) or item.get("_feed_author"),
        "tags": [str(tag) for tag in item.get("tags") or [] if isinstance(tag, str)],
        "embedded": embedded if isinstance(embedded, Mapping) else None,
    }


def _posting(
    board: Board[Options], external_id: str, item: Mapping[str, Any], fields: Mapping[str, Any]
) -> Posting:
    options = board.options
    title = clean_text(fields["title"])
    company = options.company
    if options.company_in_title and ": " in title:
        named, _, title = title.partition(": ")
        company = company or clean_text(named)
    if not title:
        raise PostingError("'title' is missing or blank")
    url = canonical_url(fields["url"] if isinstance(fields["url"], str) else None)
    embedded = _embedded(board, external_id, title, url, fields["embedded"])
    markup = sanitize_html(fields["html"]) or (embedded.description_html if embedded else "")
    text = html_to_text(markup)
    places = _location_texts(item, options.location_field)
    locations = parse_locations(places, country_hint=_suffixed(item, "country"))
    if not locations and embedded:
        locations = embedded.locations
    workplace = next(filter(None, map(workplace_from, places)), None)
    if workplace is None and locations and all(place.remote for place in locations):
        workplace = "remote"
    hints = [_suffixed(item, key) for key in TYPE_FIELDS] + list(fields["tags"])
    board_type = next((hint for hint in hints if hint and employment_type(hint) is not None), None)
    kind = employment_type(board_type, title)
    sponsorship = sponsorship_from_text(text)
    deadline = parse_datetime(_deadline_text(item))
    return Posting(
        source=board.name,
        external_id=external_id,
        title=title,
        url=url,
        apply_url=url,
        company=company or clean_text(fields["author"] or "") or (embedded.company if embedded else None),
        department=_named(item, DEPARTMENT_FIELDS),
        locations=locations,
        workplace=workplace or (embedded.workplace if embedded else None),
        employment_type=kind or (embedded.employment_type if embedded else None),
        salary=_salary(item, text) or (embedded.salary if embedded else None),
        posted_at=parse_datetime(fields["posted"]) or (embedded.posted_at if embedded else None),
        deadline=deadline or (embedded.deadline if embedded else None),
        work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
        description_text=text,
        description_html=markup,
        extra=_extra(item),
    )


def _embedded(
    board: Board[Options], external_id: str, title: str, url: str | None, posting: Mapping[str, Any] | None
) -> Posting | None:
    """The item's embedded schema.org JobPosting read like a `jsonld` page's, to fill what the item lacks."""
    if posting is None:
        return None
    try:
        return posting_from_jsonld(
            {"title": title, **posting}, source=board.name, external_id=external_id, page=url
        )
    except PostingError:
        return None


def _location_texts(item: Mapping[str, Any], chosen: list[str]) -> list[str]:
    if chosen:
        return [text for key in chosen if (text := _field(item, (key,)))]
    first = _named(item, LOCATION_FIELDS)
    return [first] if first else []


def _salary(item: Mapping[str, Any], text: str) -> Salary | None:
    """Namespaced salary fields (NEOGOV `joblisting:minimumSalary`…), a `salary` text, else the text."""
    by_suffix = {suffix: _suffixed(item, suffix) for suffix in ("minimumsalary", "maximumsalary")}
    if any(by_suffix.values()):
        salary = salary_from_range(
            by_suffix["minimumsalary"],
            by_suffix["maximumsalary"],
            _suffixed(item, "salarycurrency"),
            _suffixed(item, "salaryinterval"),
        )
        if salary is not None:
            return salary
    return parse_salary_text(_field(item, ("salary",))) or parse_salary_text(text)


def _deadline_text(item: Mapping[str, Any]) -> str | None:
    value = _named(item, DEADLINE_FIELDS)
    return _ODD_SECONDS.sub(r"\1", value) if value else None


def _extra(item: Mapping[str, Any]) -> dict[str, Any]:
    """The feed's own item fields (namespaced or not), kept as text; long HTML is cut."""
    extra: dict[str, Any] = {}
    for key, value in item.items():
        if key in STANDARD_KEYS or key.startswith("_") or key.endswith("_detail"):
            continue
        if key in ("url", "external_url", "content_html", "content_text", "summary", "date_published",
                   "date_modified", "tags", "authors", "author", "image", "banner_image"):  # fmt: skip
            continue
        if isinstance(value, str) and value.strip():
            extra[key] = value if len(value) <= _MAX_EXTRA_CHARS else value[: _MAX_EXTRA_CHARS - 1] + "…"
    return extra


def _field(item: Mapping[str, Any], keys: Iterable[str]) -> str | None:
    """The first of `keys` the item has as non-blank text."""
    for key in keys:
        value = item.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and value.strip():
            return clean_text(value)
    return None


def _suffixed(item: Mapping[str, Any], suffix: str) -> str | None:
    """A field by its tag name, un-namespaced or under whatever prefix the feed gave its namespace."""
    return _field(item, [suffix, *(key for key in item if key.endswith("_" + suffix))])


def _named(item: Mapping[str, Any], names: Iterable[str]) -> str | None:
    """The first of `names` the item has as text, each matched with or without a namespace prefix."""
    return next(filter(None, (_suffixed(item, name) for name in names)), None)


def _author_name(entry: Mapping[str, Any]) -> str | None:
    """`author` as a name: RSS writes "jobs@acme.example (Acme)", dc:creator and Atom give the name."""
    author = entry.get("author")
    if not isinstance(author, str) or not author.strip():
        return None
    match = _AUTHOR_EMAIL.match(author)
    name = match.group("name") if match else author
    return None if "@" in name and " " not in name.strip() else clean_text(name)


def _json_author(node: Mapping[str, Any]) -> str | None:
    """JSON Feed 1.1 `authors[0].name`, or 1.0's `author.name`."""
    authors = node.get("authors")
    first = authors[0] if isinstance(authors, list) and authors else node.get("author")
    name = first.get("name") if isinstance(first, Mapping) else None
    return clean_text(name) if isinstance(name, str) and name.strip() else None


def _paragraphs(text: str) -> str:
    """Plain text as HTML paragraphs, so text and HTML descriptions are handled alike."""
    blocks = [block.strip() for block in re.split(r"\n\s*\n", text) if block.strip()]
    return "".join(f"<p>{escape(block)}</p>" for block in blocks)


def _content_type(response: Response) -> str:
    raw = response.headers.get(b"Content-Type") or b""
    return raw.decode("latin-1").split(";")[0].strip().lower()


def _bozo(parsed: Any) -> str:
    exc = parsed.get("bozo_exception")
    return f"{type(exc).__name__}: {exc}" if exc is not None else ""


def _brief(data: Any) -> str:
    return quoted_json(data)  # short, control-free, and nothing of a redirected response
