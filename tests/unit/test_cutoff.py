"""Telling a markup document cut off in transfer from a whole one, by its own end."""

from __future__ import annotations

import pytest

from crawler.spiders._cutoff import html_cut_off, xml_cut_off
from tests.fixtures.feed import atom_entry, atom_feed, rss_feed, rss_item
from tests.fixtures.html import careers_page, opening
from tests.fixtures.jsonld import sitemap

PAGE = careers_page([opening(n, f"Role {n}") for n in range(1, 4)])
RSS = rss_feed([rss_item(str(n), f"Role {n}") for n in range(1, 4)])


@pytest.mark.parametrize(
    "body",
    [
        PAGE,
        PAGE.upper(),
        PAGE.replace(b"</html>", b""),  # </body> alone closes the page
        PAGE.replace(b"</body></html>", b"</BODY >\n<script>late()</script></html>\n\n"),
        b'<ul><li class="opening">A fragment an endpoint returns: nothing to check</li>',
        b"",
    ],
    ids=["whole", "upper-case", "no-html-end-tag", "script-after-body", "fragment", "empty"],
)
def test_a_whole_html_page_or_a_fragment_is_not_cut_off(body: bytes) -> None:
    assert html_cut_off(body) is None


@pytest.mark.parametrize("cut", [len(PAGE) // 2, PAGE.index(b"</body>"), PAGE.index(b"</body>") + 5])
def test_an_html_page_that_ends_before_its_body_and_html_end_tags_is_cut_off(cut: int) -> None:
    problem = html_cut_off(PAGE[:cut])
    assert problem == (
        f"the page ends before its </body> and </html> ({cut:,} bytes arrived): cut off in transfer?"
    )


@pytest.mark.parametrize(
    "body",
    [
        RSS,
        RSS + b"\n<!-- served in 3 ms -->\n<?cache hit?>\n",
        b"\xef\xbb\xbf" + RSS,
        atom_feed([atom_entry("urn:1", "Role", href="https://a.example/1")]),
        sitemap(["https://a.example/jobs/1"]),
        b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><!-- c --><rss version="2.0"/>',
        b'<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><item/></rdf:RDF >',
        b"not xml at all",
    ],
    ids=["rss", "trailing-comment-and-pi", "bom", "atom", "sitemap", "doctype-self-closed", "rdf", "not-xml"],
)
def test_an_xml_document_ending_with_its_root_end_tag_is_not_cut_off(body: bytes) -> None:
    assert xml_cut_off(body) is None


@pytest.mark.parametrize(
    ("body", "root"),
    [
        (RSS[: RSS.index(b"<item>", RSS.index(b"</item>"))], "rss"),  # between two items
        (RSS[: -len(b"</rss>")], "rss"),  # only the root's end tag is missing
        (RSS[:-3], "rss"),  # cut inside it
        (atom_feed([atom_entry("urn:1", "Role", href="https://a.example/1")])[:-10], "feed"),
        (sitemap(["https://a.example/jobs/1", "https://a.example/jobs/2"])[:-40], "urlset"),
        (b"<rss><channel></channel></rss><junk>", "rss"),  # something after the root is not its end
    ],
    ids=["between-items", "root-end-missing", "inside-root-end", "atom", "sitemap", "junk-after"],
)
def test_an_xml_document_that_ends_before_its_root_end_tag_is_cut_off(body: bytes, root: str) -> None:
    assert xml_cut_off(body) == (
        f"the document ends before its </{root}> ({len(body):,} bytes arrived): cut off in transfer?"
    )
