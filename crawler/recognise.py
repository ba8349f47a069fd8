"""A careers or ATS address read as the source that watches it: pure functions, no requests.

`recognise(url)` knows the address shapes of every type whose URL names a board (Greenhouse,
Lever, Ashby, Workday, SmartRecruiters, Recruitee, Workable, Personio, TikTok, GradConnection,
The Muse, a Simplify-style GitHub list) and reads a search address's filters into the type's
options. `discover(html, page_url)` reads a page that is none of these: a board embedded in it
(an iframe, script or link to one of those hosts), else schema.org JobPosting markup (a `jsonld`
source on the page), else an RSS/Atom/JSON Feed `<link rel=alternate>` (a `feed` source).
Fetching the page is the caller's job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

from parsel import Selector


@dataclass(frozen=True)
class Recognised:
    """A source type and its options (no `name`), the token to name it by, and where it was found."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)
    token: str = ""
    how: str = "the address"


_GRADCONNECTION_COUNTRIES = {
    "au": "australia",
    "nz": "new-zealand",
    "uk": "united-kingdom",
    "hk": "hong-kong",
    "sg": "singapore",
    "ca": "canada",
    "my": "malaysia",
}
_GRADCONNECTION_JOB_TYPES = {"graduate-jobs", "internships", "jobs", "clerkships", "entry-level-jobs"}
_THEMUSE_LEVELS = {
    "internship": "Internship",
    "entry": "Entry Level",
    "entry-level": "Entry Level",
    "mid": "Mid Level",
    "mid-level": "Mid Level",
    "senior": "Senior Level",
    "senior-level": "Senior Level",
    "management": "management",
}
_TIKTOK_RECRUITMENT = {"2": ["intern", "new-grad"], "202": ["intern"], "201": ["new-grad"]}
_WORKDAY_HOST = re.compile(r"^[a-z0-9-]+\.wd\d+\.myworkdayjobs\.com$")
_WORKDAY_SITE_HOST = re.compile(r"^wd\d+\.myworkdaysite\.com$")
_SUBDOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_NOT_A_COMPANY = {"www", "api", "app", "apply", "jobs", "careers", "help", "support", "blog"}
#: Boards a page embeds or links to as its own; a footer link to TikTok's or The Muse's site is not one.
_EMBEDDABLE = frozenset(
    {"greenhouse", "lever", "ashby", "workday", "smartrecruiters", "recruitee", "workable", "personio"}
)
_FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")


def recognise(url: str) -> Recognised | None:
    """The source `url` names, or None when it is no board address this module knows."""
    parts = urlsplit(url.strip() if "://" in url else f"https://{url.strip()}")
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname.lower().rstrip(".")
    host = host.removeprefix("www.")
    path = [unquote(segment) for segment in parts.path.split("/") if segment]
    query = {key.lower(): values for key, values in parse_qs(parts.query).items()}
    for reader in _READERS:
        found = reader(host, path, query, url.strip())
        if found is not None:
            return found
    return None


def _first(query: Mapping[str, list[str]], *keys: str) -> str | None:
    for key in keys:
        for value in query.get(key, ()):
            if value.strip():
                return value.strip()
    return None


def _all(query: Mapping[str, list[str]], key: str) -> list[str]:
    return [part.strip() for value in query.get(key, ()) for part in value.split(",") if part.strip()]


def _greenhouse(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host not in ("boards.greenhouse.io", "job-boards.greenhouse.io", "boards-api.greenhouse.io"):
        return None
    if path[:2] == ["v1", "boards"]:
        token = path[2] if len(path) > 2 else None
    elif path[:1] == ["embed"] or not path or host == "boards-api.greenhouse.io":
        token = _first(query, "for")
    else:
        token = path[0]
    return Recognised("greenhouse", {"board": token}, token) if token else None


def _lever(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host in ("jobs.lever.co", "jobs.eu.lever.co") and path:
        site = path[0]
    elif host in ("api.lever.co", "api.eu.lever.co") and path[:2] == ["v0", "postings"] and len(path) > 2:
        site = path[2]
    else:
        return None
    options: dict[str, Any] = {"site": site}
    if ".eu." in host:
        options["base_url"] = "https://api.eu.lever.co"
    return Recognised("lever", options, site)


def _ashby(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host == "jobs.ashbyhq.com" and path and path[0] != "api":
        board = path[0]
    elif host == "api.ashbyhq.com" and path[:2] == ["posting-api", "job-board"] and len(path) > 2:
        board = path[2]
    else:
        return None
    return Recognised("ashby", {"board": board}, board)


def _workday(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if not (_WORKDAY_HOST.match(host) or _WORKDAY_SITE_HOST.match(host)):
        return None
    from crawler.types.workday import career_site

    try:
        site = career_site(f"https://{host}/" + "/".join(path))
    except ValueError:
        return None
    locale = f"/{path[0]}" if path and re.fullmatch(r"[a-z]{2}(-[A-Za-z]{2,4})?", path[0]) else ""
    options: dict[str, Any] = {"url": f"https://{host}{locale}{site.prefix}"}
    search = _first(query, "q", "searchtext")
    if search:
        options["search_text"] = search
    facets = {
        key: values
        for key, raw in parse_qs(urlsplit(url).query).items()
        if key.lower() not in ("q", "searchtext", "source", "clientrequestid")
        and (values := [value.strip() for value in raw if value.strip()])
    }
    if facets:
        options["applied_facets"] = facets
    return Recognised("workday", options, site.tenant)


def _smartrecruiters(
    host: str, path: list[str], query: Mapping[str, list[str]], url: str
) -> Recognised | None:
    if host in ("careers.smartrecruiters.com", "jobs.smartrecruiters.com") and path:
        company = path[0]
    elif host == "api.smartrecruiters.com" and path[:2] == ["v1", "companies"] and len(path) > 2:
        company = path[2]
    else:
        return None
    options: dict[str, Any] = {"company": company}
    search = _first(query, "search", "q")
    if search:
        options["query"] = search
    return Recognised("smartrecruiters", options, company)


def _subdomain(host: str, domain: str) -> str | None:
    if not host.endswith(f".{domain}"):
        return None
    label = host.removesuffix(f".{domain}")
    return label if _SUBDOMAIN.match(label) and label not in _NOT_A_COMPANY else None


def _recruitee(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    company = _subdomain(host, "recruitee.com")
    return Recognised("recruitee", {"company": company}, company) if company else None


def _workable(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host == "apply.workable.com" and path and path[0] not in ("api", "j", "embed"):
        account = path[0]
    elif host == "apply.workable.com" and path[:4] == ["api", "v1", "widget", "accounts"] and len(path) > 4:
        account = path[4]
    else:
        account = _subdomain(host, "workable.com") or ""
    return Recognised("workable", {"account": account}, account) if account else None


def _personio(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    for domain in ("jobs.personio.de", "jobs.personio.com"):
        company = _subdomain(host, domain)
        if company:
            options: dict[str, Any] = {"company": company}
            if domain.endswith(".com"):
                options["base_url"] = f"https://{company}.jobs.personio.com"
            language = _first(query, "language")
            if language in ("de", "en", "fr", "es", "nl", "it", "pt"):
                options["language"] = language
            return Recognised("personio", options, company)
    return None


def _tiktok(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host not in ("lifeattiktok.com", "careers.tiktok.com"):
        return None
    options: dict[str, Any] = {}
    keyword = _first(query, "keyword", "keywords")
    if keyword:
        options["keyword"] = keyword
    recruitment: list[str] = []
    for value in _all(query, "recruitment_id_list") + _all(query, "type"):
        for item in _TIKTOK_RECRUITMENT.get(value, [value] if value.isdigit() else []):
            if item not in recruitment:
                recruitment.append(item)
    if recruitment:
        options["recruitment"] = recruitment
    categories = _all(query, "job_category_id_list") + _all(query, "category")
    if categories:
        options["categories"] = categories
    locations = _all(query, "location_code_list") + _all(query, "location")
    if locations:
        options["locations"] = locations
    return Recognised("tiktok", options, "tiktok")


def _gradconnection(
    host: str, path: list[str], query: Mapping[str, list[str]], url: str
) -> Recognised | None:
    country = host.removesuffix(".gradconnection.com") if host.endswith(".gradconnection.com") else None
    if country is None and host == "gradconnection.com":
        country = "au"
    if country not in _GRADCONNECTION_COUNTRIES:
        return None
    options: dict[str, Any] = {"country": country}
    token = f"gradconnection-{country}"
    segments = [segment.lower() for segment in path]
    if segments[:1] == ["employers"] and len(segments) > 1:
        options["query"] = segments[1].replace("-", " ")
        token = segments[1]
    elif segments[:1] and segments[0] in _GRADCONNECTION_JOB_TYPES:
        if segments[0] != "jobs":
            options["job_type"] = segments[0]
        for slug in segments[1:3]:
            if slug == _GRADCONNECTION_COUNTRIES[country]:
                continue  # the whole country site: no filter
            if _is_place(slug) and "location" not in options:
                kind = "Remote" if slug == "remote" else "Cities"
                options["location"] = f"{slug},{country.upper()},{kind}"
            elif "discipline" not in options:
                options["discipline"] = slug
    job_type = _first(query, "job_type")
    if job_type:
        options["job_type"] = job_type
    for key, option in (("title", "query"), ("query", "query"), ("disciplines", "discipline")):
        value = _first(query, key)
        if value:
            options[option] = value
    location = _first(query, "location")
    if location and location.count(",") == 2:
        options["location"] = location
    return Recognised("gradconnection", options, token)


#: Location slugs GradConnection's list pages use after the discipline (a city, a state, remote).
_PLACES = {
    "sydney", "melbourne", "brisbane", "perth", "adelaide", "canberra", "hobart", "darwin", "gold-coast",
    "newcastle", "auckland", "wellington", "christchurch", "london", "manchester", "birmingham",
    "edinburgh", "hong-kong", "singapore", "toronto", "vancouver", "montreal", "kuala-lumpur", "remote",
    "new-south-wales", "victoria", "queensland", "western-australia", "south-australia", "tasmania",
    "australian-capital-territory", "northern-territory",
}  # fmt: skip


def _is_place(slug: str) -> bool:
    return slug in _PLACES


def _themuse(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host != "themuse.com":
        return None
    options: dict[str, list[str]] = {}

    def add(key: str, value: str) -> None:
        if value and value not in options.setdefault(key, []):
            options[key].append(value)

    if path[:1] == ["profiles"] and len(path) > 1:
        company = path[1]
        add("company", " ".join(word.capitalize() for word in company.split("-")))
        return Recognised("themuse", dict(options), company)
    if not path or path[0] not in ("search", "jobs"):
        return None
    pairs = path[1:]
    for key, value in zip(pairs[::2], pairs[1::2], strict=False):
        _themuse_filter(add, key.lower(), value)
    for key in ("level", "location", "category", "company"):
        for value in query.get(key, ()):
            _themuse_filter(add, key, value)
    token = "themuse-" + "-".join(
        re.sub(r"[^a-z0-9]+", "-", value.lower()).strip("-")
        for values in options.values()
        for value in values
    )
    return Recognised("themuse", dict(options), token.rstrip("-") or "themuse")


def _themuse_filter(add: Any, key: str, value: str) -> None:
    if key == "level":
        add("level", _THEMUSE_LEVELS.get(value.lower(), value))
    elif key == "location":
        add("location", _themuse_location(value))
    elif key in ("category", "company"):
        add(key, value if " " in value or "-" not in value else value.replace("-", " ").title())


def _themuse_location(value: str) -> str:
    """`new-york-ny` → `New York, NY`; `remote`/`flexible-remote` → `Flexible / Remote`; a name stays."""
    if "-" not in value or " " in value:
        return value
    if "remote" in value.lower():
        return "Flexible / Remote"
    *words, last = value.split("-")
    if words and len(last) == 2:
        return " ".join(word.capitalize() for word in words) + ", " + last.upper()
    return " ".join(word.capitalize() for word in value.split("-"))


def _simplify(host: str, path: list[str], query: Mapping[str, list[str]], url: str) -> Recognised | None:
    if host == "raw.githubusercontent.com" and path and path[-1] == "listings.json" and len(path) >= 3:
        owner, repo = path[0], path[1]
        listings = url.split("?")[0].split("#")[0]
    elif host == "github.com" and len(path) >= 2:
        owner, repo = path[0], path[1].removesuffix(".git")
        branch = path[3] if len(path) > 3 and path[2] in ("tree", "blob") else "dev"
        listings = f"https://raw.githubusercontent.com/{owner}/{repo}/{branch}/.github/scripts/listings.json"
    else:
        return None
    options: dict[str, Any] = {"url": listings}
    if "intern" in repo.lower():
        options["employment_type"] = "intern"
    return Recognised("simplify", options, repo)


_READERS = (
    _greenhouse,
    _lever,
    _ashby,
    _workday,
    _smartrecruiters,
    _recruitee,
    _workable,
    _personio,
    _tiktok,
    _gradconnection,
    _themuse,
    _simplify,
)


def discover(html: str, page_url: str) -> Recognised | None:
    """What a page that is no known board address holds: an embedded board, JobPosting markup or a feed."""
    if _looks_like_feed(html):
        return Recognised("feed", {"url": page_url}, _host_token(page_url), "the address is a feed")
    page = Selector(text=html)
    for selector, attribute in (("iframe", "src"), ("script", "src"), ("a", "href"), ("link", "href")):
        for address in page.css(f"{selector}::attr({attribute})").getall():
            absolute = urljoin(page_url, address.strip())
            found = recognise(absolute) if urlsplit(absolute).scheme in ("http", "https") else None
            if found is not None and found.type in _EMBEDDABLE:
                how = f"a board embedded in the page ({selector} {absolute})"
                return Recognised(found.type, found.options, found.token, how)
    for script in page.css('script[type="application/ld+json"]::text').getall():
        if any(_is_job_posting(item) for item in _jsonld_items(script)):
            return Recognised(
                "jsonld", {"start_urls": [page_url]}, _host_token(page_url), "JobPosting markup in the page"
            )
    for link in page.css("link"):
        rel = (link.attrib.get("rel") or "").lower().split()
        kind = (link.attrib.get("type") or "").lower().split(";")[0].strip()
        href = (link.attrib.get("href") or "").strip()
        if "alternate" in rel and kind in _FEED_TYPES and href:
            feed = urljoin(page_url, href)
            if urlsplit(feed).scheme in ("http", "https"):
                return Recognised(
                    "feed", {"url": feed}, _host_token(page_url), f"the page's feed link ({feed})"
                )
    return None


def _looks_like_feed(text: str) -> bool:
    head = text.lstrip("\ufeff \t\r\n")[:400].lower()
    return (
        head.startswith("<rss")
        or head.startswith("<feed")
        or (head.startswith("<?xml") and ("<rss" in head or "<feed" in head))
    )


def _jsonld_items(text: str) -> Iterator[Any]:
    try:
        data = json.loads(text)
    except ValueError:
        return
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            yield item
            if isinstance(item.get("@graph"), list):
                stack.extend(item["@graph"])


def _is_job_posting(item: Mapping[str, Any]) -> bool:
    kind = item.get("@type")
    kinds = kind if isinstance(kind, list) else [kind]
    return any(isinstance(k, str) and k.rsplit("/", 1)[-1] == "JobPosting" for k in kinds)


def _host_token(url: str) -> str:
    host = (urlsplit(url).hostname or "site").lower().removeprefix("www.")
    labels = [
        label for label in host.split(".") if label not in ("careers", "jobs", "com", "co", "org", "net")
    ]
    return labels[0] if labels else host.split(".")[0]


def source_name(token: str, taken: set[str] | frozenset[str]) -> str:
    """A source name from a board token (`Hippocratic AI` → `hippocratic-ai`), suffixed -2, -3… if taken."""
    base = re.sub(r"[^a-z0-9_.-]+", "-", token.lower()).strip("-._")[:70] or "board"
    name, number = base, 2
    while name in taken:
        name, number = f"{base}-{number}", number + 1
    return name
