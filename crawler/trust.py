"""The crawler's trust boundary: where a source's requests may go, decided before any is sent.

Board content is untrusted. A next link, a redirect, a followed link or a sitemap entry is the
board telling the crawler where to go, and a hostile board would point it at `file:///etc/…`,
at `http://169.254.169.254/` (a cloud's metadata service) or at an internal host, and read the
answer back through the crawl's error text. So a request may go only to

- an http or https URL (Scrapy's file, data, ftp and s3 handlers are switched off as well),
- on one of the hosts the source's own configuration names: its URLs (`url`, `base_url`,
  `start_urls`, `sitemap`, …), its type's API host (the host of its first requests) and the
  exact names in `allowed_hosts`; these are the operator's choice, wherever they point,
- or on a host below a `*.example.com` entry of `allowed_hosts`, provided every address the
  name resolves to is a public one (no loopback, private, link-local, multicast, reserved or
  unspecified address, in IPv4 or IPv6 form, IPv4-mapped and embedded forms included).

Everything else is refused before it is sent, with a reason naming the URL.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The only URL schemes ever requested.
WEB_SCHEMES = frozenset({"http", "https"})

#: NAT64's well-known prefix (RFC 6052): the last 32 bits are an IPv4 address.
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


class Refused(Exception):
    """A request that must not be sent; the message says why, for the crawl's error."""


def normal_host(host: str) -> str:
    """A host as compared here: lower case, no trailing dot, an IP address in its canonical form."""
    text = host.strip().lower().rstrip(".")
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    address = ip_literal(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return f"::ffff:{address.ipv4_mapped}"  # one spelling on every Python (3.13 changed str())
    return str(address) if address is not None else text


def ip_literal(host: str) -> IPAddress | None:
    """`host` as an IP address when it is one (`::ffff:127.0.0.2`, `[::1]`), else None."""
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def host_of(url: str) -> str:
    """The normalised host of `url`; empty when it names none."""
    try:
        return normal_host(urlsplit(url).hostname or "")
    except ValueError:
        return ""


def is_public_address(address: IPAddress | str) -> bool:
    """True for an address on the public internet; False for loopback, private, link-local,
    multicast, reserved and unspecified ones, whether written as IPv4 or as IPv6 (an IPv4-mapped
    `::ffff:a.b.c.d`, a 6to4 `2002::/16` or a NAT64 `64:ff9b::/96` address is judged by the IPv4
    address inside it).
    """
    found = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(found, ipaddress.IPv6Address):
        embedded = found.ipv4_mapped or found.sixtofour
        if embedded is None and found in _NAT64:
            embedded = ipaddress.IPv4Address(int(found) & 0xFFFFFFFF)
        if embedded is not None and not is_public_address(embedded):
            return False
    return bool(
        found.is_global
        and not found.is_multicast
        and not found.is_reserved
        and not found.is_unspecified
        and not found.is_link_local
        and not found.is_loopback
        and not found.is_private
    )


@dataclass(frozen=True)
class HostPolicy:
    """Where one source's requests may go: its own hosts, plus hosts below `allowed_hosts` wildcards."""

    hosts: frozenset[str]
    suffixes: tuple[str, ...] = ()

    @classmethod
    def of(cls, urls: Iterable[str], allowed_hosts: Iterable[str] = ()) -> HostPolicy:
        """The policy of a source whose configuration names `urls` and lists `allowed_hosts`.

        `urls` are the configured URLs and the source's first requests (its type's API host);
        an `allowed_hosts` entry `*.example.com` allows any host below example.com.
        """
        hosts = {host_of(url) for url in urls}
        suffixes: list[str] = []
        for entry in allowed_hosts:
            if entry.startswith("*."):
                suffixes.append(normal_host(entry[1:]))
            else:
                hosts.add(normal_host(entry))
        hosts.discard("")
        return cls(frozenset(hosts), tuple(sorted(set(suffixes))))

    def check(self, url: str) -> str | None:
        """Raise Refused for a URL that must not be requested; return the host whose addresses must
        be checked after DNS (a host allowed only by a wildcard), or None when it may go as it is.
        """
        try:
            parts = urlsplit(url)
            host = normal_host(parts.hostname or "")
        except ValueError:
            raise Refused("not a valid URL") from None
        if parts.scheme.lower() not in WEB_SCHEMES:
            raise Refused(f"only http and https URLs are requested, not {parts.scheme or 'this'}:")
        if not host:
            raise Refused("the URL names no host")
        if host in self.hosts:
            return None
        if ip_literal(host) is None and any(host.endswith(suffix) for suffix in self.suffixes):
            return host
        raise Refused(f"{host} is not one of this source's hosts ({self._shown()}); {_ALLOW_HINT}")

    def check_addresses(self, host: str, addresses: Iterable[str]) -> None:
        """Raise Refused when `host` (allowed by a wildcard) resolves to any non-public address."""
        for address in addresses:
            if not is_public_address(address):
                raise Refused(f"{host} resolves to a non-public address ({address}); {_ALLOW_HINT}")

    def _shown(self) -> str:
        names = sorted(self.hosts) + [f"*{suffix}" for suffix in self.suffixes]
        return ", ".join(names[:4]) + (f" and {len(names) - 4} more" if len(names) > 4 else "")


_ALLOW_HINT = "list the exact host in the source's allowed_hosts if the board may send the crawler there"
