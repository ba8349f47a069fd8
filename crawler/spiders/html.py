"""Any HTML list of openings, mapped to postings with CSS or XPath selectors and followed by a next link."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from cssselect import SelectorError
from lxml import etree
from parsel import Selector, SelectorList
from scrapy import Request
from scrapy.http import Response, TextResponse

from crawler.normalize.dates import parse_datetime
from crawler.normalize.descriptions import describe_html, describe_text
from crawler.normalize.employment import employment_type
from crawler.normalize.locations import parse_locations, workplace_of
from crawler.normalize.rights import sponsorship_from_text
from crawler.normalize.salary import parse_salary_text
from crawler.normalize.text import clean_text, html_to_text
from crawler.normalize.urls import canonical_url
from crawler.spider import Board, BoardSpider, ListingError, ListingTruncated, PostingError
from crawler.spiders._cutoff import check_html_whole
from crawler.spiders._options import rehost
from crawler.spiders._paging import stop_at_repeat
from crawler.types.html import Options, select
from crawler.types.html import is_xpath as is_xpath  # where callers have always found it
from rolewatch.domain import Posting, WorkRights

_PAGE = "html_page"  # 1 for a start URL, 2 for the page its next link led to…
_VISITED = "html_visited"  # pages of this chain already read (a next link back to one is the end)


class HtmlSpider(BoardSpider[Options]):
    """Reads each start URL's list and follows its next link; a page that matches nothing is an error.

    Fields are extracted while the page is at hand (relative links need it); each raw record is a
    small dict of texts whose `id` is the id field or, failing that, the canonical URL.
    """

    name = "html"

    def start_requests_for(self, board: Board[Options]) -> Iterable[Request]:
        for url in board.options.start_urls:
            yield Request(rehost(url, board.options.base_url), meta={_PAGE: 1, _VISITED: ()})

    def parse_listing(self, response: Response, board: Board[Options]) -> Iterable[Any]:
        options = board.options
        kind = (response.headers.get(b"Content-Type") or b"").decode("latin-1").split(";")[0].strip()
        if not isinstance(response, TextResponse) or "json" in kind:
            raise ListingError(f"response is not HTML ({kind or 'no content type'})")
        page = int(response.meta.get(_PAGE, 1))
        document = Selector(text=response.text, type="html", base_url=response.url)
        items = _evaluate(document, options.item, "item")
        if any(not _is_element(item) for item in items):
            raise ListingError(f"`item` ({options.item!r}) must select elements, not text")
        if not items:
            if options.allow_empty:
                check_html_whole(response.body)  # a page cut before its list is not an empty board
                return  # an empty board (allowed); its next link is not followed
            where = "this page" if page == 1 else f"page {page}"
            script = needs_javascript(document)
            if script is not None:
                raise ListingError(
                    f"`item` ({options.item!r}) matched nothing on {where}, which appears to need "
                    f"JavaScript ({script}); the html type reads the page as served and runs no scripts: "
                    "use the board's JSON API (the json type) or the ATS it embeds"
                )
            raise ListingError(
                f"`item` ({options.item!r}) matched nothing on {where}: not the careers list, or the"
                " page changed (set allow_empty: true for a board that can be empty)"
            )
        found = [_record(item, response, options) for item in items]
        why = "its next link leads to the same list again"
        read = stop_at_repeat(response, found, page, self.record_id, why)
        yield from found
        follow = self._next(response, document, options, page, read)
        if follow is not None:
            yield follow
        check_html_whole(response.body)  # a page cut mid-list: what it held is kept, absence closes nothing

    def _next(
        self, response: TextResponse, document: Selector, options: Options, page: int, read: Mapping[str, Any]
    ) -> Request | None:
        """The next page's request; None when there is no next link or it leads back to a page read."""
        if options.next is None:
            return None
        link = _link(_evaluate(document, options.next, "next"))
        url = canonical_url(response.urljoin(link)) if link else None
        if url is None:
            return None
        url = url.split("#", 1)[0]
        here = (canonical_url(response.url) or response.url).split("#", 1)[0]
        visited: tuple[str, ...] = (*response.meta.get(_VISITED, ()), here)
        if url in visited:
            return None  # "next" on the last page points at itself (or back): everything was read
        if page >= options.max_pages:
            raise ListingTruncated(f"stopped after max_pages={options.max_pages}; the list goes on")
        return Request(url, meta={_PAGE: page + 1, _VISITED: visited, **read})

    def to_posting(self, record: Any, board: Board[Options]) -> Posting:
        found: Mapping[str, Any] = record
        options = board.options
        title = found.get("title")
        if not title:
            raise PostingError(f"`fields.title` ({options.fields.title!r}) matched nothing in this item")
        external_id = found.get("id")
        if not external_id:
            raise PostingError("no `id` and no usable `url` in this item: it cannot be told apart")
        places: list[str] = list(found.get("locations") or [])
        locations = parse_locations(places)
        if found.get("description_html") is not None:
            html, text = describe_html(found["description_html"])
        else:
            html, text = describe_text(found.get("description_text") or "")
        sponsorship = sponsorship_from_text(text)
        now = datetime.now(UTC)
        return Posting(
            source=board.name,
            external_id=str(external_id),
            title=title,
            url=found.get("url"),
            apply_url=found.get("apply_url") or found.get("url"),
            company=found.get("company") or clean_text(options.company) or None,
            department=found.get("department"),
            locations=locations,
            workplace=workplace_of(found.get("workplace"), places, locations),
            employment_type=employment_type(found.get("employment_type"), title),
            salary=parse_salary_text(found.get("salary"), default_currency=options.default_currency),
            posted_at=parse_datetime(found.get("posted_at"), now=now),
            deadline=parse_datetime(found.get("deadline"), now=now),
            work_rights=WorkRights(sponsorship=sponsorship) if sponsorship else None,
            description_text=text,
            description_html=html,
            extra=dict(found.get("extra") or {}),
        )


#: Elements a script-built page (React, Vue, Next.js, Nuxt, Angular) leaves empty for its scripts to fill.
_APP_ROOTS = (
    "#root", "#app", "#__next", "#__nuxt", "#___gatsby", "[ng-app]", "[data-reactroot]", "app-root"
)  # fmt: skip
#: A page with less visible text than this and at least one script is taken to be drawn by script.
SCRIPTED_TEXT_CHARS = 200


def needs_javascript(document: Selector) -> str | None:
    """Why a page whose item selector matched nothing looks drawn by JavaScript; None when it does not.

    A `<noscript>` asking for JavaScript, an empty application root, or almost no text beside scripts.
    """
    notice = " ".join(" ".join(document.xpath("//noscript//text()").getall()).split())
    if "javascript" in notice.lower():
        return f"its <noscript> says {notice[:80]!r}"
    scripts = len(document.xpath("//script"))
    text = "".join(
        document.xpath("//body//text()[not(ancestor::script) and not(ancestor::style) "
                       "and not(ancestor::noscript) and not(ancestor::template)]").getall()
    )  # fmt: skip
    visible = len(" ".join(text.split()))
    for root in _APP_ROOTS:
        found = document.css(root)
        if found and scripts and not " ".join("".join(found[0].xpath(".//text()").getall()).split()):
            return f"an empty application root, {root}, for its scripts to fill"
    if scripts and visible < SCRIPTED_TEXT_CHARS:
        return f"{visible} characters of text beside {scripts} scripts"
    return None


def _record(item: Selector, response: TextResponse, options: Options) -> dict[str, Any]:
    """What one item says, as plain texts; links absolute and canonical, empty values left out."""
    fields = options.fields
    record: dict[str, Any] = {}

    def matches(key: str, selector: str | None) -> SelectorList[Selector] | None:
        return _evaluate(item, selector, f"fields.{key}") if selector else None

    for key in ("title", "company", "department", "workplace", "employment_type", "salary"):
        record[key] = _one_text(matches(key, getattr(fields, key)))
    for key in ("posted_at", "deadline"):
        record[key] = _one_text(matches(key, getattr(fields, key)))
    for key in ("url", "apply_url"):
        link = _link(matches(key, getattr(fields, key)))
        record[key] = canonical_url(response.urljoin(link)) if link else None
    places = matches("locations", fields.locations)
    record["locations"] = _texts(places)
    described = matches("description", fields.description)
    if described:
        if any(_is_element(part) for part in described):
            record["description_html"] = "".join(part.get() for part in described if _is_element(part))
        else:
            record["description_text"] = " ".join(_texts(described))  # text nodes: pieces of one text
    extra = {name: _one_text(matches(f"extra.{name}", selector)) for name, selector in fields.extra.items()}
    record["extra"] = {name: value for name, value in extra.items() if value}
    ids = _texts(matches("id", fields.id))
    record["id"] = ids[0] if ids else record.get("url")
    return {key: value for key, value in record.items() if value}


def _evaluate(node: Selector, selector: str, key: str) -> SelectorList[Selector]:
    try:
        return select(node, selector)
    except (SelectorError, ValueError, etree.XPathError) as exc:
        raise ListingError(f"`{key}` ({selector!r}) could not be evaluated here: {exc}") from None


def _is_element(match: Selector) -> bool:
    return isinstance(match.root, etree._Element)


def _texts(matches: Iterable[Selector] | None) -> list[str]:
    """Each match as one clean text: an element's readable text (scripts dropped), a string as it is."""
    texts = []
    for match in matches or ():
        root = match.root
        if _is_element(match):
            text = clean_text(html_to_text(match.get()))
        elif isinstance(root, bool):
            text = ""
        elif isinstance(root, float):
            text = str(int(root)) if root.is_integer() else str(root)
        else:
            text = clean_text(str(root))
        if text:
            texts.append(text)
    return texts


def _one_text(matches: SelectorList[Selector] | None) -> str | None:
    """A one-value field: the first element's text, or every text node joined.

    `a` gives the link's whole text, nested markup included; `a::text` gives its own text nodes
    (the pieces around a nested `<em>`), which only make sense together.
    """
    if not matches:
        return None
    if any(_is_element(match) for match in matches):
        return next(iter(_texts([m for m in matches if _is_element(m)])), None)
    return clean_text(" ".join(_texts(matches))) or None


def _link(matches: SelectorList[Selector] | None) -> str | None:
    """The first usable link: an attribute or text value, or an element's own `href`."""
    for match in matches or ():
        root = match.root
        value = root.get("href") if _is_element(match) else root if isinstance(root, str) else None
        if isinstance(value, str) and value.strip() and not value.strip().startswith("#"):
            return value.strip()
    return None
