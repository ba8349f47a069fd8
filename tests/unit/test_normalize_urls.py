"""Canonical posting URLs: one address per role, whatever tracking the board adds."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crawler.normalize.urls import _PLAIN_URL, _canonical, canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "https://boards.greenhouse.io/acme/jobs/123?gh_jid=123&gh_src=abc",
            "https://boards.greenhouse.io/acme/jobs/123?gh_jid=123",
        ),
        (
            "https://jobs.lever.co/acme/abc-123?lever-source=LinkedIn&lever-origin=applied",
            "https://jobs.lever.co/acme/abc-123",
        ),
        (
            "https://acme.example/jobs/1?utm_source=x&utm_medium=y&utm_campaign=z&utm_term=t&utm_content=c",
            "https://acme.example/jobs/1",
        ),
        ("https://acme.example/jobs/1?gclid=1&fbclid=2&mc_cid=3&mc_eid=4", "https://acme.example/jobs/1"),
        ("https://acme.example/jobs/1?ref=a&referrer=b&source=c&trk=d&src=e", "https://acme.example/jobs/1"),
        ("https://acme.example/jobs/1?_hsenc=a&_hsmi=b", "https://acme.example/jobs/1"),
        ("https://acme.example/jobs/1?UTM_Source=x&Source=y", "https://acme.example/jobs/1"),
    ],
)
def test_canonical_url_removes_tracking_parameters(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://acme.example/jobs?b=2&a=1", "https://acme.example/jobs?a=1&b=2"),
        ("https://acme.example/jobs?id=7&utm_source=x&dept=eng", "https://acme.example/jobs?dept=eng&id=7"),
        (
            "https://acme.example/search?q=data+science&page=2",
            "https://acme.example/search?page=2&q=data+science",
        ),
    ],
)
def test_canonical_url_keeps_meaningful_parameters_sorted(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Jobs.ACME.example/Careers/Role", "https://jobs.acme.example/Careers/Role"),
        ("https://acme.example:443/jobs", "https://acme.example/jobs"),
        ("http://acme.example:80/jobs", "http://acme.example/jobs"),
        ("https://acme.example:8443/jobs", "https://acme.example:8443/jobs"),
        ("https://acme.example", "https://acme.example/"),
        ("https://acme.example/jobs/1#apply", "https://acme.example/jobs/1"),
        ("  https://acme.example/jobs/1\n", "https://acme.example/jobs/1"),
        ("https://acme.example/jobs?a=1&amp;b=2", "https://acme.example/jobs?a=1&b=2"),
        ("https://acme.example/café", "https://acme.example/caf%C3%A9"),
        ("//acme.example/jobs/1", "https://acme.example/jobs/1"),
    ],
)
def test_canonical_url_normalises_case_ports_fragments_and_encoding(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_canonical_url_keeps_single_page_app_route_fragments() -> None:
    assert canonical_url("https://careers.acme.example/#/jobs/12") == "https://careers.acme.example/#/jobs/12"
    assert (
        canonical_url("https://careers.acme.example/#!/jobs/12") == "https://careers.acme.example/#!/jobs/12"
    )


@pytest.mark.parametrize(
    ("url", "base", "expected"),
    [
        ("/jobs/1", "https://acme.example/careers/", "https://acme.example/jobs/1"),
        ("jobs/1", "https://acme.example/careers/", "https://acme.example/careers/jobs/1"),
        ("?page=2", "https://acme.example/careers", "https://acme.example/careers?page=2"),
        ("https://other.example/x", "https://acme.example/", "https://other.example/x"),
        ("//cdn.example/x", "http://acme.example/", "http://cdn.example/x"),
    ],
)
def test_canonical_url_joins_relative_links_with_the_base(url: str, base: str, expected: str) -> None:
    assert canonical_url(url, base) == expected


@pytest.mark.parametrize(
    "url",
    [
        None,
        "",
        "   ",
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "mailto:jobs@acme.example",
        "ftp://acme.example/file",
        "data:text/html,<script>alert(1)</script>",
        "relative/path/without/base",
        "https://",
        "http://[::1",
        "https://acme.example:99999/",
    ],
)
def test_canonical_url_rejects_unusable_urls(url: str | None) -> None:
    assert canonical_url(url) is None


def test_canonical_url_rejects_javascript_even_with_a_base() -> None:
    assert canonical_url("javascript:alert(1)", "https://acme.example/") is None


def test_canonical_url_gives_noisy_variants_the_same_address() -> None:
    variants = [
        "https://ACME.example/jobs/9?team=eng&utm_source=li#top",
        "https://acme.example:443/jobs/9?utm_medium=x&team=eng",
        "https://acme.example/jobs/9?team=eng&gclid=abc",
    ]
    assert len({canonical_url(v) for v in variants}) == 1


_URL_PARTS = st.builds(
    "{}://{}{}?{}#{}".format,
    st.sampled_from(["http", "https", "HTTPS", "ftp", "javascript"]),
    st.sampled_from(["acme.example", "ACME.example:443", "acme.example:8080", "[::1]", ""]),
    st.text(alphabet="/abcé%20?&=#", max_size=15),
    st.text(alphabet="abcutm_=&;%+é", max_size=30),
    st.text(alphabet="/!ab", max_size=5),
)


@settings(max_examples=300)
@given(_URL_PARTS)
def test_canonical_url_is_idempotent(url: str) -> None:
    once = canonical_url(url)
    if once is not None:
        assert canonical_url(once) == once


@settings(max_examples=300)
@given(st.text())
def test_canonical_url_never_raises_on_arbitrary_text(url: str) -> None:
    result = canonical_url(url)
    assert result is None or result.startswith(("http://", "https://"))


@settings(max_examples=200)
@given(st.text(), st.text())
def test_canonical_url_never_raises_with_an_arbitrary_base(url: str, base: str) -> None:
    canonical_url(url, base)


_PLAIN_URLS = st.builds(
    lambda scheme, host, segments, slash, parameters: (
        f"{scheme}://{host}/{'/'.join(segments)}{'/' if slash and segments else ''}"
        + ("?" + "&".join(f"{name}={value}" for name, value in parameters) if parameters else "")
    ),
    st.sampled_from(["http", "https"]),
    st.from_regex(r"[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8}){0,2}\.[a-z][a-z0-9-]{0,6}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9_~-][A-Za-z0-9._~-]{0,10}", fullmatch=True), max_size=4),
    st.booleans(),
    st.lists(
        st.tuples(
            st.sampled_from(["gh_jid", "gh_src", "utm_source", "UTM_Medium", "ref", "a", "a-b", "a.b", "B"])
            | st.from_regex(r"[A-Za-z0-9_.-]{1,8}", fullmatch=True),
            st.from_regex(r"[A-Za-z0-9_.-]{0,6}", fullmatch=True),
        ),
        max_size=5,
    ),
)


@settings(max_examples=1000)
@given(_PLAIN_URLS | st.from_regex(_PLAIN_URL, fullmatch=True))
def test_plain_urls_take_a_shortcut_to_the_same_address(url: str) -> None:
    assert _PLAIN_URL.fullmatch(url)
    assert canonical_url(url) == _canonical(url, None)


@pytest.mark.parametrize(
    "url",
    [
        "https://acme.example",  # no path: the general path adds "/"
        "https://acme.example/a/./b",  # dot segments are resolved
        "https://ACME.example/jobs",
        "https://127.0.0.1/jobs",
        "https://acme.example/jobs?a",
        "https://acme.example/jobs?b=1&a=2#frag",
        "https://acme.example/r%C3%A9sum%C3%A9",
    ],
)
def test_urls_that_need_the_general_path_do_not_look_plain(url: str) -> None:
    assert _PLAIN_URL.fullmatch(url) is None
