"""A small database for the web tests: a few crawls that make every kind of event, and board content
that tries every way into a page (script tags, attribute breaks, `javascript:` links)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from rolewatch.domain import CrawlVerdict, Location, Posting
from tests.integration.storage_factory import Board, posting

HOSTILE_TITLE = '<script>alert("title")</script>"><img src=x onerror=alert(1)> Data Intern'
HOSTILE_COMPANY = "\"'><svg onload=alert(2)>Evil & Co"
HOSTILE_URL = "javascript:alert(document.cookie)"
HOSTILE_DESCRIPTION = (
    '<p>Hello</p><img src="https://tracker.example/x.gif" onerror="alert(4)">'
    '<script>alert(5)</script><a href="javascript:alert(6)">click</a>'
    '<a href="https://safe.example/apply">apply here</a>'
)
HOSTILE_PLACE = Location("<b onmouseover=alert(7)>Sydney</b>", city="Sydney", country="AU")
#: A secret inside a channel URL: it must never reach a page, a feed or the API.
CHANNEL_SECRET = "s3cr3t-app-password"
CONFIG = f"""
sources:
  - {{name: acme, type: greenhouse, board: acme}}
  - {{name: globex, type: lever, site: globex}}
subscriptions:
  - name: interns
    query: 'title:intern'
    notify: ["mailto://me:{CHANNEL_SECRET}@gmail.com"]
  - name: nothing
    query: 'title:astronaut'
"""


@dataclass(frozen=True)
class Seeded:
    """What the seed made, for tests to look for."""

    hostile_id: int
    plain_title: str
    closed_title: str


def hostile_posting() -> Posting:
    base = posting("evil", title=HOSTILE_TITLE, company=HOSTILE_COMPANY, locations=(HOSTILE_PLACE,))
    return dataclasses.replace(
        base, url=HOSTILE_URL, apply_url="javascript:alert(8)", description_html=HOSTILE_DESCRIPTION
    )


def seed(engine: Engine) -> Seeded:
    """Events on two sources ending about now: new, changed (salary), closed, reopened; one failed crawl;
    the outbox rows the subscriptions' alerts made."""
    from notifier.alerts import Outbox
    from rolewatch.resolve import parse_config

    start = datetime.now(UTC) - timedelta(hours=6)
    alerts = Outbox(parse_config(CONFIG)).after_record  # the outbox rows a daemon would write with them
    acme = Board(engine, "acme", close_after_misses=1, start=start, then=alerts)
    evil = hostile_posting()
    acme.crawl([posting(1), posting(2, title="Closing Analyst"), evil])
    acme.crawl([posting(1, salary=90_000), posting(2, title="Closing Analyst"), evil])
    acme.crawl([posting(1, salary=90_000), evil])
    acme.crawl([posting(1, salary=90_000), posting(2, title="Closing Analyst"), evil])
    acme.crawl([], CrawlVerdict.FAILED, reason="HTTP 503 <b>busy</b>")
    globex = Board(engine, "globex", start=start, then=alerts)
    globex.crawl([posting(7, source="globex", title="Backend Engineer", company="Globex")])
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    from storage.models import PostingRow

    with Session(engine) as session:
        hostile_id = session.execute(
            select(PostingRow.id).where(PostingRow.external_id == "evil")
        ).scalar_one()
    return Seeded(
        hostile_id=hostile_id, plain_title="Data Scientist Intern 1", closed_title="Closing Analyst"
    )
