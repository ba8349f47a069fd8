"""Any site whose pages mark postings up with schema.org JobPosting (JSON-LD or microdata)."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urldefrag, urljoin

import extruct
import lxml.etree
import lxml.html
from extruct.jsonld import JsonLdExtractor
from scrapy import Request
from scrapy.http import Response, TextResponse

from crawler.normalize.text import clean_text
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, ListingError, ListingTruncated
from crawler.spiders._cutoff import check_html_whole, xml_cut_off
from crawler.spiders._jobposting import as_list, first_of, posting_from_jsonld, text_of, texts_of
from crawler.types.jsonld import Options
from rolewatch.domain import Posting

#: Request meta key: what a response is (a start page, a detail page, a sitemap).
_KIND = "jsonld_kind"
START, DETAIL, SITEMAP = "start", "detail", "sitemap"
#: A followed detail page answering these is a posting taken down: not listed, not an error.
GONE = (404, 410)
#: Nested sitemaps a sitemap index may send us to, at most, per crawl.
MAX_SITEMAPS = 50
#: Sitemaps are parsed without resolving anything (XXE, billion laughs); a cut one, leniently.
_SITEMAP_PARSER = lxml.etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_CUT_SITEMAP_PARSER = lxml.etree.XMLParser(
    resolve_entities=False, no_network=True, huge_tree=False, recover=True
)
#: Depth at which walking nested JSON-LD stops (hostile or cyclic-looking markup).
MAX_DEPTH = 12
_WRAPPERS = re.compile(r"^\s*(?://\s*)?(?:<!\[CDATA\[|<!--)|(?://\s*)?(?:\]\]>|-->)\s*$")


@dataclass
class _Crawl:
    """One source's link bookkeeping during a crawl: a detail page is read once, however often linked."""

    details: set[str] = field(default_factory=set)
    sitemaps: set[str] = field(default_factory=set)


@dataclass
class Page:
    """What one HTML page carries: JobPosting objects, list links to follow, markup that would not parse."""

    postings: list[dict[str, Any]] = field(default_factory=list)
    links: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class JsonLdSpider(BoardSpider[Options]):
    """Start pages (or a sitemap) lead to detail pages; every page's JobPosting markup is a posting.

    The listing is the set of pages reached, so a posting whose page is no longer linked is
    absent; a followed link answering 404/410 is a posting taken down, not an error.
    """

    name = "jsonld"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._crawls: dict[str, _Crawl] = {}

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        crawl = self._crawls[board.name] = _Crawl()
        if board.options.sitemap:
            url = _absolute(board, board.options.sitemap)
            crawl.sitemaps.add(url)
            return [Request(url, meta={_KIND: SITEMAP})]
        return [Request(_absolute(board, url), meta={_KIND: START}) for url in board.options.start_urls]

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        kind = response.meta.get(_KIND, START)
        if kind == SITEMAP:
            yield from self._sitemap(response, board)
            return
        if kind == DETAIL and response.status in GONE:
            return
        page = read_page(response)
        yield from records(page.postings, response.url)
        if kind == DETAIL:
            if not page.postings:
                raise ListingError(f"no schema.org JobPosting on the page{_because(page)}")
            check_html_whole(response.body)
            return
        links = page.links + _selected_links(response, board.options.follow)
        if not page.postings and not links:
            what = f' and nothing matches follow "{board.options.follow}"' if board.options.follow else ""
            raise ListingError(f"no schema.org JobPosting on the page{what}{_because(page)}")
        yield from self._follow(board, links, response.url)
        check_html_whole(response.body)  # a start page cut mid-list lost links: its absences prove nothing

    def record_id(self, record: Any) -> str | None:
        return posting_identity(record) if isinstance(record, Mapping) else None

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        return posting_from_jsonld(
            record["posting"],
            source=board.name,
            external_id=posting_identity(record),
            page=record["page"],
            company=board.options.company,
        )

    def _follow(self, board: Board[Options], urls: Iterable[str], base: str) -> Iterator[Request]:
        """One request per new detail URL, up to `max_pages` in the whole crawl."""
        crawl = self._crawls[board.name]
        for raw in urls:
            url = _web_url(raw, base)
            if url is None or url in crawl.details:
                continue
            if len(crawl.details) >= board.options.max_pages:
                raise ListingTruncated(f"more than max_pages={board.options.max_pages} detail pages")
            crawl.details.add(url)
            yield Request(url, meta={_KIND: DETAIL, "handle_httpstatus_list": list(GONE)})

    def _sitemap(self, response: Response, board: Board[Options]) -> Iterator[Request]:
        """The sitemaps an index names, or the detail pages a sitemap names (a cut one: partial)."""
        cut_off = xml_cut_off(response.body)
        kind, locations = read_sitemap(response) if cut_off is None else read_cut_sitemap(response)
        if kind == "sitemapindex":
            yield from self._nested(board, locations, response.url)
        else:
            wanted = re.compile(board.options.sitemap_filter or "")
            yield from self._follow(board, (url for url in locations if wanted.search(url)), response.url)
        if cut_off is not None:
            raise ListingTruncated(cut_off)

    def _nested(self, board: Board[Options], locations: Iterable[str], base: str) -> Iterator[Request]:
        """One request per new sitemap a sitemap index names, up to MAX_SITEMAPS in the whole crawl."""
        crawl = self._crawls[board.name]
        for raw in locations:
            url = _web_url(raw, base)
            if url is None or url in crawl.sitemaps:
                continue
            if len(crawl.sitemaps) >= MAX_SITEMAPS:
                raise ListingTruncated(f"the sitemap index lists more than {MAX_SITEMAPS} sitemaps")
            crawl.sitemaps.add(url)
            yield Request(url, meta={_KIND: SITEMAP})


# --- reading pages ---------------------------------------------------------------------------------


def read_page(response: Response) -> Page:
    """Every JobPosting in the page's JSON-LD and microdata, and the URLs its ItemLists point to."""
    if not isinstance(response, TextResponse):
        content_type = (response.headers.get(b"Content-Type") or b"").decode("latin-1")
        raise ListingError(f"response is not an HTML page ({content_type or 'no content type'})")
    root = response.selector.root
    page = Page()
    if not isinstance(root, lxml.etree._Element):
        return page
    for node in root.xpath("//script[@type='application/ld+json']"):
        try:
            blocks = _json_ld_blocks(node)
        except ValueError as exc:
            page.problems.append(f"a JSON-LD block is not JSON ({exc})")
            continue
        _walk(blocks, page, depth=0)
    try:
        found = extruct.extract(root, base_url=response.url, syntaxes=["microdata"], uniform=True,
                                return_html_node=True)  # fmt: skip
    except Exception as exc:
        page.problems.append(f"the microdata could not be read ({type(exc).__name__})")
    else:
        _walk([_from_microdata(item) for item in found.get("microdata", [])], page, depth=0)
    return page


def records(postings: list[dict[str, Any]], page: str) -> Iterator[dict[str, Any]]:
    """Raw records for `to_posting`: each posting with the page it was on (its URL of last resort).

    Several postings on one page that name neither an identifier nor a URL of their own
    would share the page's URL as their id; each then carries its title as an anchor.
    """
    anonymous = [p for p in postings if not _identifier(p.get("identifier")) and not text_of(p.get("url"))]
    for posting in postings:
        record: dict[str, Any] = {"page": page, "posting": posting}
        if len(anonymous) > 1 and posting in anonymous:
            record["anchor"] = clean_text(
                text_of(posting.get("title")) or text_of(posting.get("name"))
            ).lower()
        record["id"] = posting_identity(record)  # named in messages about the record
        yield record


def _json_ld_blocks(node: lxml.etree._Element) -> list[Any]:
    """One script's JSON-LD; extruct's reading first, then without CDATA/comment wrappers."""
    try:
        return list(JsonLdExtractor().extract_items(node))
    except ValueError:
        text = _WRAPPERS.sub("", str(node.xpath("string()")))
        data = json.loads(text, strict=False)
        return data if isinstance(data, list) else [data]


def _walk(node: Any, page: Page, depth: int) -> None:
    """Collect JobPostings wherever they sit: top level, arrays, `@graph`, `mainEntity`, ItemLists."""
    if depth > MAX_DEPTH:
        return
    if isinstance(node, list):
        for item in node:
            _walk(item, page, depth + 1)
        return
    if not isinstance(node, dict):
        return
    types = _types(node)
    if "JobPosting" in types:
        page.postings.append(node)
        return
    if types & {"ItemList", "DataFeed"}:
        for element in as_list(node.get("itemListElement")) + as_list(node.get("dataFeedElement")):
            _list_element(element, page, depth + 1)
        return
    for key, value in node.items():
        if key != "@context":
            _walk(value, page, depth + 1)


def _list_element(element: Any, page: Page, depth: int) -> None:
    """An ItemList entry: a JobPosting (maybe inside a ListItem), or the URL of a posting's page."""
    if isinstance(element, str):
        page.links.append(element)
        return
    if not isinstance(element, dict):
        return
    before = len(page.postings)
    _walk(element, page, depth)
    if len(page.postings) > before:
        return
    item = element.get("item")
    candidates = [element.get("url"), item]
    if isinstance(item, dict):
        candidates = [element.get("url"), item.get("url"), item.get("@id")]
    url = next((value for value in candidates if isinstance(value, str) and value.strip()), None)
    if url is not None:
        page.links.append(url)


def _from_microdata(item: Any) -> Any:
    """extruct's uniform microdata without its lxml nodes; a JobPosting keeps its description's HTML."""
    if isinstance(item, list):
        return [_from_microdata(value) for value in item]
    if not isinstance(item, dict):
        return item
    node = item.get("htmlNode")
    clean = {key: _from_microdata(value) for key, value in item.items() if key != "htmlNode"}
    if "JobPosting" in _types(clean) and node is not None:
        markup = _microdata_description(node)
        if markup:
            clean["description"] = markup
    return clean


def _microdata_description(node: lxml.etree._Element) -> str | None:
    """The inner HTML of the item's own `itemprop="description"` (extruct keeps only its text)."""
    for element in node.iterdescendants():
        if "description" not in str(element.get("itemprop") or "").split():
            continue
        owner = next((up for up in element.iterancestors() if up.get("itemscope") is not None), None)
        if owner is not node:
            continue
        if element.get("content") is not None:
            return str(element.get("content"))
        inner = html.escape(element.text or "", quote=False)
        inner += "".join(lxml.html.tostring(child, encoding="unicode") for child in element)
        return inner
    return None


def _selected_links(response: Response, selector: str | None) -> list[str]:
    """`href`s of the elements `selector` matches (or the strings it selects, `a::attr(href)`)."""
    if not selector or not isinstance(response, TextResponse):
        return []
    links = []
    for match in response.css(selector):
        value = match.get() if isinstance(match.root, str) else match.attrib.get("href")
        if isinstance(value, str) and value.strip():
            links.append(value.strip())
    return links


def read_sitemap(response: Response) -> tuple[str, list[str]]:
    """(`urlset` or `sitemapindex`, its `<loc>` URLs); anything else is a ListingError."""
    kind, entries = _sitemap_entries(response, _SITEMAP_PARSER)
    return kind, _locations(entries)


def read_cut_sitemap(response: Response) -> tuple[str, list[str]]:
    """What a sitemap cut off in transfer holds: its entries but the last, which may be cut mid-URL."""
    kind, entries = _sitemap_entries(response, _CUT_SITEMAP_PARSER)
    return kind, _locations(entries[:-1])


def _sitemap_entries(response: Response, parser: lxml.etree.XMLParser) -> tuple[str, list[Any]]:
    try:
        root = lxml.etree.fromstring(response.body, parser=parser)
    except lxml.etree.XMLSyntaxError as exc:
        looks_html = response.body.lstrip()[:15].lower().startswith((b"<!doctype html", b"<html"))
        raise ListingError(
            "response is not a sitemap (an HTML page)" if looks_html else f"response is not a sitemap ({exc})"
        ) from None
    if root is None:
        raise ListingError("response is not a sitemap (no XML element in it)")
    kind = lxml.etree.QName(root).localname
    if kind == "html":
        raise ListingError("response is not a sitemap (an HTML page)")
    if kind not in ("urlset", "sitemapindex"):
        raise ListingError(f"response is not a sitemap (its root element is <{kind}>)")
    child = "url" if kind == "urlset" else "sitemap"
    return kind, list(root.xpath(f"./*[local-name()='{child}']"))


def _locations(entries: Iterable[Any]) -> list[str]:
    found = [str(url).strip() for entry in entries for url in entry.xpath("./*[local-name()='loc']/text()")]
    return [url for url in found if url]


def _because(page: Page) -> str:
    return f" ({'; '.join(page.problems)})" if page.problems else ""


def _absolute(board: Board[Options], url: str) -> str:
    base = board.options.base_url
    return urljoin(base.rstrip("/") + "/", url.lstrip("/")) if base and "://" not in url else url


def _web_url(raw: str, base: str) -> str | None:
    """The link as one canonical http(s) URL (no fragment, no tracking parameters): each page is read once."""
    url = canonical_url(urldefrag(urljoin(base, raw.strip()))[0])
    return url if url and url.startswith(("http://", "https://")) else None


# --- which posting a record is --------------------------------------------------------------------


def posting_identity(record: Mapping[str, Any]) -> str:
    """The posting's `identifier`, else its own URL, else the page it is on (SPEC: the canonical URL)."""
    posting: Mapping[str, Any] = record["posting"]
    page = str(record["page"])
    identifier = _identifier(posting.get("identifier"))
    if identifier:
        return identifier
    own = canonical_url(text_of(posting.get("url")) or None, base=page)
    if own:
        return own
    where = canonical_url(page) or page
    return f"{where}#{record['anchor']}" if record.get("anchor") else where


def _identifier(value: Any) -> str:
    """`identifier` as text: a PropertyValue's `value`, or the string or number itself."""
    value = first_of(value)
    if isinstance(value, Mapping):
        value = value.get("value") if value.get("value") is not None else value.get("@id")
    if isinstance(value, bool) or value is None:
        return ""
    return clean_text(str(value)) if isinstance(value, str | int | float) else ""


def _types(node: Mapping[str, Any]) -> set[str]:
    """`@type` as bare names: "JobPosting" from "schema:JobPosting" or "http://schema.org/JobPosting"."""
    return {re.split(r"[/:#]", value)[-1] for value in texts_of(node.get("@type"))}
