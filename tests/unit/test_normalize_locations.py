"""Board location strings as structured places, and workplace vocabulary."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.normalize.locations import _workplace, parse_locations, workplace_from
from rolewatch.domain import Location


def _only(text: str, *, country_hint: str | None = None) -> Location:
    (location,) = parse_locations(text, country_hint=country_hint)
    return location


@pytest.mark.parametrize(
    ("text", "city", "region", "country"),
    [
        ("San Jose, CA", "San Jose", "CA", "US"),
        ("Sydney", "Sydney", "NSW", "AU"),
        ("Sydney, NSW", "Sydney", "NSW", "AU"),
        ("Sydney, Australia", "Sydney", "NSW", "AU"),
        ("NYC", "New York City", "NY", "US"),
        ("New York, NY", "New York City", "NY", "US"),
        ("New York, New York, United States", "New York City", "NY", "US"),
        ("SF", "San Francisco", "CA", "US"),
        ("Bay Area", None, "CA", "US"),
        ("London, UK", "London", None, "GB"),
        ("Toronto, ON, Canada", "Toronto", "ON", "CA"),
        ("Berlin, Germany", "Berlin", None, "DE"),
        ("Hong Kong", "Hong Kong", None, "HK"),
        ("Singapore", "Singapore", None, "SG"),
        ("Bengaluru, Karnataka, India", "Bengaluru", "KA", "IN"),
        ("Bangalore", "Bengaluru", None, "IN"),
        ("Mountain View, California, United States", "Mountain View", "CA", "US"),
        ("Washington, DC", "Washington", "DC", "US"),
        ("Atlanta, Georgia", "Atlanta", "GA", "US"),
        ("Tbilisi, Georgia", "Tbilisi", None, "GE"),
        ("Paris, France", "Paris", None, "FR"),
        ("Paris, TX", "Paris", "TX", "US"),
        ("Zurich", "Zürich", None, "CH"),
        ("São Paulo, Brazil", "São Paulo", None, "BR"),
        ("Sao Paulo", "São Paulo", None, "BR"),
        ("Seoul, South Korea", "Seoul", None, "KR"),
        ("Melbourne, VIC", "Melbourne", "VIC", "AU"),
        ("Melbourne, FL", "Melbourne", "FL", "US"),
        ("Cambridge, MA", "Cambridge", "MA", "US"),
        ("Cambridge, UK", "Cambridge", None, "GB"),
        ("Chicago, IL 60601", "Chicago", "IL", "US"),
        ("Sydney NSW 2000", "Sydney", "NSW", "AU"),
        ("San Francisco CA", "San Francisco", "CA", "US"),
        ("Greater Seattle Area", "Seattle", "WA", "US"),
        ("US-CA-San Francisco", "San Francisco", "CA", "US"),
        ("Luxembourg", "Luxembourg", None, "LU"),
    ],
)
def test_parse_locations_reads_city_region_and_country(
    text: str, city: str | None, region: str | None, country: str
) -> None:
    location = _only(text)
    assert (location.city, location.region, location.country) == (city, region, country)
    assert location.name == text
    assert location.remote is False


@pytest.mark.parametrize(
    ("text", "region", "country"),
    [
        ("San Jose, CA", "CA", "US"),  # after a US city, CA is California
        ("Toronto, CA", "ON", "CA"),  # but Toronto is not in California: CA is Canada
        ("Seattle, WA", "WA", "US"),
        ("Perth, WA", "WA", "AU"),  # WA falls back to Western Australia
        ("London, ON", "ON", "CA"),
        ("Vancouver, BC", "BC", "CA"),
        ("Vancouver, WA", "WA", "US"),
        ("Bengaluru, IN", None, "IN"),  # not Indiana
        ("Berlin, DE", None, "DE"),  # not Delaware
        ("Adelaide, SA", "SA", "AU"),  # not Saudi Arabia
    ],
)
def test_parse_locations_disambiguates_two_letter_codes_by_the_city(
    text: str, region: str | None, country: str
) -> None:
    location = _only(text)
    assert (location.region, location.country) == (region, country)


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("USA", "US"),
        ("United States", "US"),
        ("United States of America", "US"),
        ("U.S.", "US"),
        ("UK", "GB"),
        ("United Kingdom", "GB"),
        ("England", "GB"),
        ("South Korea", "KR"),
        ("Australia", "AU"),
        ("DEU", "DE"),
        ("the Netherlands", "NL"),
        ("Vietnam", "VN"),
        ("Türkiye", "TR"),
        ("India", "IN"),  # "In" is a connector word in "Remote in Canada", not a prefix to strip
        ("Indonesia", "ID"),
    ],
)
def test_parse_locations_knows_country_names_codes_and_common_names(text: str, country: str) -> None:
    location = _only(text)
    assert location.country == country and location.city is None


@pytest.mark.parametrize(
    ("text", "country"),
    [
        ("Remote - US", "US"),
        ("Remote (US)", "US"),
        ("US-Remote", "US"),
        ("Remote, United States", "US"),
        ("Remote US", "US"),
        ("Remote in Canada", "CA"),
        ("Remote - India", "IN"),
        ("Remote, based in Germany", "DE"),
        ("Remote: Canada", "CA"),
        ("Remote (US only)", "US"),
        ("Fully Remote - UK", "GB"),
        ("Remote-US", "US"),
        ("Remote", None),
        ("Fully Remote", None),
        ("Anywhere", None),
        ("Work from home", None),
        ("Remote - EMEA", None),
        ("Remote, Europe", None),
    ],
)
def test_parse_locations_marks_remote_places(text: str, country: str | None) -> None:
    location = _only(text)
    assert location.remote is True
    assert location.country == country
    assert location.name == text


def test_parse_locations_keeps_the_city_of_a_remote_place() -> None:
    location = _only("Remote - San Francisco")
    assert (location.city, location.country, location.remote) == ("San Francisco", "US", True)


def test_parse_locations_strips_workplace_words_without_marking_remote() -> None:
    location = _only("Hybrid - London")
    assert (location.city, location.country, location.remote) == ("London", "GB", False)


@pytest.mark.parametrize(
    ("text", "cities"),
    [
        ("Sydney; Melbourne", ["Sydney", "Melbourne"]),
        ("Sydney | Melbourne", ["Sydney", "Melbourne"]),
        ("Sydney / Melbourne", ["Sydney", "Melbourne"]),
        ("Sydney or Melbourne", ["Sydney", "Melbourne"]),
        ("Sydney\nMelbourne", ["Sydney", "Melbourne"]),
        ("Sydney, Melbourne", ["Sydney", "Melbourne"]),
        ("London, Paris, Berlin", ["London", "Paris", "Berlin"]),
        ("San Francisco, CA, New York, NY", ["San Francisco", "New York City"]),
        ("Sydney, Australia; Auckland, New Zealand", ["Sydney", "Auckland"]),
        ("US-Remote, US-San Francisco, US-Chicago", [None, "San Francisco", "Chicago"]),
    ],
)
def test_parse_locations_splits_several_places(text: str, cities: list[str | None]) -> None:
    assert [location.city for location in parse_locations(text)] == cities


def test_parse_locations_splits_board_style_prefixed_lists() -> None:
    locations = parse_locations("US-Remote, US-San Francisco, US-Chicago")
    assert locations == (
        Location(name="US-Remote", country="US", remote=True),
        Location(name="US-San Francisco", city="San Francisco", region="CA", country="US"),
        Location(name="US-Chicago", city="Chicago", region="IL", country="US"),
    )


def test_parse_locations_distributes_a_parenthesised_list() -> None:
    locations = parse_locations("Remote (US, Canada)")
    assert [(loc.country, loc.remote) for loc in locations] == [("US", True), ("CA", True)]


def test_parse_locations_does_not_split_a_hierarchy_in_parentheses() -> None:
    location = _only("Toronto (ON, Canada)")
    assert (location.city, location.region, location.country) == ("Toronto", "ON", "CA")


def test_parse_locations_accepts_an_iterable_and_deduplicates_in_order() -> None:
    locations = parse_locations(["Sydney", "Melbourne", "Sydney", "Sydney; Melbourne"])
    assert [loc.name for loc in locations] == ["Sydney", "Melbourne"]


def test_parse_locations_keeps_same_place_under_different_names() -> None:
    assert len(parse_locations(["NYC", "New York, NY"])) == 2


def test_parse_locations_skips_non_strings_in_an_iterable() -> None:
    values: list[object] = ["Sydney", None, 42, ""]
    assert [loc.city for loc in parse_locations(values)] == ["Sydney"]  # type: ignore[arg-type]


@pytest.mark.parametrize("values", [None, "", "   ", [], (), 42])
def test_parse_locations_of_nothing_is_empty(values: str | list[str] | None) -> None:
    assert parse_locations(values) == ()


@pytest.mark.parametrize("text", ["Some Weird Place", "Multiple Locations", "🙂", "مدينة", "Hybrid"])
def test_parse_locations_keeps_unknown_text_as_the_name(text: str) -> None:
    assert parse_locations(text) == (Location(name=text),)


def test_parse_locations_best_effort_on_partly_known_text() -> None:
    location = _only("123 Main Street, Springfield, IL")
    assert (location.name, location.city, location.region, location.country) == (
        "123 Main Street, Springfield, IL",
        "Springfield",
        "IL",
        "US",
    )


def test_parse_locations_cleans_whitespace_in_the_name() -> None:
    assert _only("  San\u00a0Jose,\tCA ").name == "San Jose, CA"


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("Remote", "US", ("US", None)),
        ("Multiple Locations", "US", ("US", None)),
        ("London", "CA", ("CA", "ON")),  # the hint picks London, Ontario
        ("London", "GB", ("GB", None)),
        ("Georgia", "US", ("US", "GA")),
        ("Berlin, Germany", "US", ("DE", None)),  # the text wins over the hint
        ("Sydney", "us", ("AU", "NSW")),  # no Sydney in the US: the hint cannot force one
        ("Remote", "not-a-country", (None, None)),
    ],
)
def test_parse_locations_uses_the_country_hint_only_when_the_text_allows(
    text: str, hint: str, expected: tuple[str | None, str | None]
) -> None:
    location = _only(text, country_hint=hint)
    assert (location.country, location.region) == expected


def test_parse_locations_resists_a_megabyte_of_text() -> None:
    started = time.perf_counter()
    assert len(parse_locations("x" * 1_000_000)) == 1
    assert len(parse_locations("London, Paris; " * 70_000)) <= 1_000
    assert time.perf_counter() - started < 5


def test_parse_locations_handles_hostile_markup_as_plain_text() -> None:
    (location,) = parse_locations("<script>alert(1)</script>")
    assert location.country is None and location.city is None


def test_parse_locations_lookup_is_fast_after_warm_up() -> None:
    parse_locations("Sydney, NSW")
    started = time.perf_counter()
    for _ in range(10_000):
        parse_locations("San Francisco, CA")
    assert (time.perf_counter() - started) / 10_000 < 50e-6


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_parse_locations_never_raises_and_names_every_place(text: str) -> None:
    for location in parse_locations(text):
        assert location.name and location.name == location.name.strip()


_PLACE_WORDS = st.sampled_from(
    [
        "Sydney",
        "CA",
        "WA",
        "Remote",
        "US",
        "-",
        "(",
        ")",
        ",",
        ";",
        "/",
        "New York",
        "Georgia",
        "IN",
        "Hybrid",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PLACE_WORDS, max_size=12).map(" ".join), st.sampled_from([None, "US", "AU", "CA", "xx"]))
def test_parse_locations_never_raises_on_place_like_soup(text: str, hint: str | None) -> None:
    locations = parse_locations(text, country_hint=hint)
    assert len(set(locations)) == len(locations)
    assert all(loc.country is None or len(loc.country) == 2 for loc in locations)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("on-site", "onsite"),
        ("onsite", "onsite"),
        ("OnSite", "onsite"),
        ("On Site", "onsite"),
        ("ONSITE", "onsite"),
        ("in office", "onsite"),
        ("In-Office", "onsite"),
        ("hybrid", "hybrid"),
        ("Hybrid", "hybrid"),
        ("Hybrid Remote", "hybrid"),
        ("remote", "remote"),
        ("Remote", "remote"),
        ("REMOTE", "remote"),
        ("Fully remote", "remote"),
        ("telecommute", "remote"),
        ("Work from home", "remote"),
        ("unspecified", None),
        ("Unspecified", None),
        ("", None),
        (None, None),
        ("n/a", None),
    ],
)
def test_workplace_from_maps_board_vocabulary(value: str | None, expected: str | None) -> None:
    assert workplace_from(value) == expected


@given(
    st.lists(
        st.sampled_from(
            ["On-site", "OnSite", "Remote - US", "Hybrid", "Telecommute", "Sydney, NSW", "office"]
        )
        | st.text(max_size=20),
        max_size=8,
    )
)
def test_cached_workplaces_equal_fresh_ones(values: list[str]) -> None:
    for value in values + values:  # the second pass answers from the cache
        assert workplace_from(value) == (_workplace(value) if value else None)


def test_workplace_from_fails_on_a_list_as_it_always_did() -> None:
    with pytest.raises(TypeError, match="expected string"):
        workplace_from(["Remote"])  # type: ignore[arg-type]


def test_the_compacted_lookup_tables_equal_a_fresh_build() -> None:
    """The tables are rebuilt from a pickle to lay them out compactly; nothing may be lost on the way."""
    from crawler.normalize.locations import _build_tables, _tables

    compacted, fresh = _tables(), _build_tables()
    assert compacted == fresh and compacted is not fresh
    assert len(compacted.cities) > 10_000


def test_the_shipped_tables_file_is_the_build_of_what_is_installed(tmp_path: Path) -> None:
    """A worker loads the gazetteer from `locations.tables`; a stale file would cost every fresh
    worker the second-long build (`python -m crawler.normalize.locations` rewrites it)."""
    from crawler.normalize.locations import TABLES_FILE, read_tables_file, write_tables_file

    assert read_tables_file() is not None, "locations.tables is stale: python -m crawler.normalize.locations"
    rebuilt = tmp_path / "locations.tables"
    write_tables_file(rebuilt)
    assert rebuilt.read_bytes() == TABLES_FILE.read_bytes()


def test_a_tables_file_built_from_something_else_or_damaged_is_not_used(tmp_path: Path) -> None:
    import pickle
    import zlib

    from crawler.normalize.locations import TABLES_FILE, read_tables_file

    _origin, fields = pickle.loads(zlib.decompress(TABLES_FILE.read_bytes()))
    other = tmp_path / "other.tables"
    other.write_bytes(zlib.compress(pickle.dumps(("another pycountry", fields))))
    damaged = tmp_path / "damaged.tables"
    damaged.write_bytes(TABLES_FILE.read_bytes()[:1000])
    assert read_tables_file(other) is None
    assert read_tables_file(damaged) is None
    assert read_tables_file(tmp_path / "missing.tables") is None
