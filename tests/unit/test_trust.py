"""The trust boundary's pure parts: address classes, host policies, and how errors quote a board."""

from __future__ import annotations

import asyncio
import re

import pytest
from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from crawler.middlewares import META_HOSTS, META_REFUSED, TrustBoundaryMiddleware
from crawler.settings import scrapy_settings
from crawler.spider import (
    DETAIL_LIMIT,
    URL_LIMIT,
    ListingError,
    _quoting,
    describe_failure,
    list_at,
    quoted,
)
from crawler.trust import HostPolicy, Refused, is_public_address, normal_host
from rolewatch.config import Politeness, SourceOptions, host_pattern


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.0.0.2",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "100.64.0.1",  # carrier-grade NAT
        "169.254.169.254",  # a cloud's metadata service
        "0.0.0.0",
        "224.0.0.1",
        "240.0.0.1",
        "255.255.255.255",
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "ff02::1",
        "::ffff:127.0.0.2",  # IPv4-mapped
        "::ffff:169.254.169.254",
        "2002:7f00:1::",  # 6to4 around 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
    ],
)
def test_non_public_addresses_in_every_form_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"])
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


def test_hosts_compare_in_one_form() -> None:
    assert normal_host("[::FFFF:7f00:2]") == "::ffff:127.0.0.2"
    assert normal_host("Boards-API.Greenhouse.io.") == "boards-api.greenhouse.io"


POLICY = HostPolicy.of(
    ["https://quokka.example/api/jobs", "http://127.0.0.1:8080"], ["cdn.example.net", "*.cloudfront.net"]
)


@pytest.mark.parametrize(
    "url",
    [
        "https://quokka.example/api/jobs?page=2",
        "http://QUOKKA.example./other",
        "http://127.0.0.1:9999/another-port",
        "https://cdn.example.net/listing.json",
    ],
)
def test_the_sources_own_hosts_and_exact_allowed_hosts_go_as_they_are(url: str) -> None:
    assert POLICY.check(url) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("file:///etc/passwd", "only http and https URLs are requested, not file:"),
        ("ftp://quokka.example/x", "only http and https URLs are requested, not ftp:"),
        ("data:text/plain,hi", "only http and https URLs are requested, not data:"),
        ("http:///no-host", "the URL names no host"),
        ("http://127.0.0.2/internal", "127.0.0.2 is not one of this source's hosts"),
        ("http://[::ffff:127.0.0.1]:8080/", "::ffff:127.0.0.1 is not one of this source's hosts"),
        ("http://[::1]/", "::1 is not one of this source's hosts"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is not one of this source's hosts"),
        ("http://quokka.example.evil.test/", "quokka.example.evil.test is not one of this source's hosts"),
        ("http://cloudfront.net/", "cloudfront.net is not one of this source's hosts"),
    ],
)
def test_anything_else_is_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(Refused, match=re.escape(reason)):
        POLICY.check(url)


def test_a_wildcard_host_is_allowed_only_once_its_addresses_are_public() -> None:
    assert POLICY.check("https://d111.cloudfront.net/jobs.json") == "d111.cloudfront.net"
    POLICY.check_addresses("d111.cloudfront.net", ["13.32.0.10", "2600:9000::1"])
    with pytest.raises(Refused, match=r"resolves to a non-public address \(10\.0\.0\.7\)"):
        POLICY.check_addresses("d111.cloudfront.net", ["13.32.0.10", "10.0.0.7"])


def run(middleware: TrustBoundaryMiddleware, request: Request) -> None:
    asyncio.run(middleware.process_request(request))


def test_the_middleware_checks_a_wildcard_host_after_dns_and_caches_the_answer() -> None:
    middleware = TrustBoundaryMiddleware()
    middleware._addresses = {"a.cloudfront.net": ("13.32.0.10",), "b.cloudfront.net": ("::ffff:10.0.0.7",)}
    run(middleware, Request("https://a.cloudfront.net/x", meta={META_HOSTS: POLICY}))
    refused = Request("https://b.cloudfront.net/x", meta={META_HOSTS: POLICY})
    with pytest.raises(IgnoreRequest, match=r"b\.cloudfront\.net resolves to a non-public address"):
        run(middleware, refused)
    assert refused.meta[META_REFUSED].startswith("refused: b.cloudfront.net resolves")


def test_a_request_without_a_policy_keeps_to_its_own_host_through_redirects() -> None:
    middleware = TrustBoundaryMiddleware()
    robots = Request("http://127.0.0.1:8080/robots.txt")
    run(middleware, robots)
    redirected = robots.replace(url="http://127.0.0.2/robots.txt")
    redirected.meta["redirect_urls"] = [robots.url]
    with pytest.raises(IgnoreRequest, match=r"\(redirected from http://127\.0\.0\.1:8080/robots\.txt\)"):
        run(middleware, redirected)


def test_only_http_handlers_are_installed() -> None:
    handlers = scrapy_settings(Politeness(), "ua", obey_robots=True)["DOWNLOAD_HANDLERS"]
    assert {scheme for scheme, handler in handlers.items() if handler is None} == {
        "file",
        "data",
        "ftp",
        "s3",
    }


def test_configured_urls_are_every_absolute_url_among_the_options() -> None:
    options = SourceOptions(base_url="http://127.0.0.1:8080/mirror")
    assert options.configured_urls() == ["http://127.0.0.1:8080/mirror"]


@pytest.mark.parametrize(
    ("entry", "expected"),
    [("CDN.Example.com.", "cdn.example.com"), ("*.cloudfront.net", "*.cloudfront.net"), ("[::1]", "::1")],
)
def test_allowed_hosts_are_host_names_or_addresses(entry: str, expected: str) -> None:
    assert host_pattern(entry) == expected


@pytest.mark.parametrize("entry", ["https://cdn.example.com", "cdn.example.com:8443", "", "a..b", "*"])
def test_allowed_hosts_refuse_anything_but_a_host(entry: str) -> None:
    with pytest.raises(ValueError):
        host_pattern(entry)


# --- how errors quote the board ------------------------------------------------------------------


def test_an_error_quotes_a_short_snippet_without_control_characters() -> None:
    with pytest.raises(ListingError) as caught:
        list_at({"error": "\x1b[2J\u202eevil\u2028" + "x" * 5000}, "jobs")
    message = str(caught.value)
    assert len(message) < 200
    assert not any(char in message for char in "\x1b\u202e\u2028"), message
    assert message.startswith('JSON has no "jobs" list (got an object: {"error": "\\u001b[2J evil ')


def test_a_redirected_body_is_never_quoted() -> None:
    with _quoting(False), pytest.raises(ListingError) as caught:
        list_at({"error": "INTERNAL"}, "jobs")
    assert str(caught.value) == (
        'JSON has no "jobs" list (got an object: (not quoted: the response came through a redirect))'
    )


def test_a_huge_board_made_url_is_clipped_in_the_error() -> None:
    from twisted.python.failure import Failure

    request = Request("http://127.0.0.2/" + "a" * 5000)
    text = describe_failure(Failure(IgnoreRequest("refused: " + "b" * 5000)), request)
    assert len(text) <= len("GET ") + URL_LIMIT + 2 + DETAIL_LIMIT
    assert quoted("ok\x00\n", 10) == "ok  "
