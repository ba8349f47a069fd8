"""rolewatch as a library: what has been recorded, as typed objects, with the command line's filters.

    from rolewatch.api import Store, to_records

    with Store.open(config="rolewatch.yaml") as store:          # or Store.from_url("sqlite:///rolewatch.db")
        interns = list(store.postings(query="title:intern", locations=["Sydney"], open_only=True))
        records = to_records(interns)                           # pandas.DataFrame(records) takes these

Postings are `storage.queries.PostingDetail` (every normalised field, `Salary`, `Location` and
`WorkRights` from `rolewatch.domain`), events are `rolewatch.domain.Event`: the objects the CLI prints.
A search is the one `rolewatch postings` and the web's `/postings?q=` run (`rolewatch.search`), so
it matches what a subscription with the same query and filters matches. The README has the details.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Engine

from notifier.query import QuerySyntaxError
from rolewatch.config import SalaryConversion, parse_duration
from rolewatch.domain import Event, EventType
from rolewatch.output import event_record, plain, posting_record
from rolewatch.resolve import load_config
from rolewatch.search import SearchError, check_source, compile_search, matching_details, parse_min_salary
from rolewatch.search import search_subscription as _search_subscription
from storage import browse
from storage.database import is_up_to_date, make_engine
from storage.queries import PostingDetail, PostingHistory, posting_history

__all__ = ["Event", "PostingDetail", "QuerySyntaxError", "SearchError", "Store", "to_records"]

EVENT_BATCH = 500


class Store:
    """A rolewatch database, read only; `Store.open(config=…)` or `Store.from_url(…)`, then `close()`
    (or use it in a `with` block)."""

    def __init__(
        self,
        engine: Engine,
        *,
        conversions: Sequence[SalaryConversion] = (),
        configured_sources: Iterable[str] = (),
    ) -> None:
        if not is_up_to_date(engine):
            url = engine.url.render_as_string(hide_password=True)
            raise RuntimeError(
                f"the database at {url} is not set up or is out of date; run `rolewatch db upgrade`"
            )
        self.engine = engine
        self._conversions = tuple(conversions)
        self._configured = tuple(configured_sources)

    @classmethod
    def open(cls, config: str | os.PathLike[str] | None = None) -> Store:
        """The database a configuration file names (`--config`'s rules: ROLEWATCH_CONFIG, then
        ./rolewatch.yaml), with its salary conversions; ConfigError lists what is wrong with the file."""
        loaded = load_config(config)
        engine = make_engine(loaded.database)
        try:
            return cls(
                engine,
                conversions=loaded.salary_conversions,
                configured_sources=[source.name for source in loaded.sources],
            )
        except BaseException:
            engine.dispose()
            raise

    @classmethod
    def from_url(cls, url: str) -> Store:
        """A database by its SQLAlchemy URL (`sqlite:///rolewatch.db`, `postgresql+psycopg://…`)."""
        engine = make_engine(url)
        try:
            return cls(engine)
        except BaseException:
            engine.dispose()
            raise

    def postings(
        self,
        query: str | None = None,
        *,
        locations: Sequence[str] = (),
        employment_types: Sequence[str] = (),
        companies: Sequence[str] = (),
        workplace: Sequence[str] = (),
        sponsorship: Sequence[str] = (),
        min_salary: str | Mapping[str, Any] | None = None,
        source: str | None = None,
        open_only: bool = False,
        limit: int | None = None,
    ) -> Iterator[PostingDetail]:
        """Stored postings oldest first, as `rolewatch postings` lists them with the same options.

        `query` is a subscription query; `min_salary` is `"40:USD:hour"` or the configuration's mapping
        (`{"amount": 40, "currency": "USD", "per": "hour"}`). A query that does not parse raises
        QuerySyntaxError (with its position), a filter a subscription would refuse SearchError, as
        does a source neither configured nor stored.
        """
        subscription = _search_subscription(
            query,
            locations=locations,
            employment_types=employment_types,
            companies=companies,
            workplace=workplace,
            sponsorship=sponsorship,
            min_salary=parse_min_salary(min_salary) if isinstance(min_salary, str) else min_salary,
        )
        search = compile_search(
            subscription,
            self._conversions,
            open_only=open_only,
            source=check_source(self.engine, self._configured, source),
        )
        return matching_details(self.engine, search, limit)

    def events(
        self,
        *,
        since: datetime | timedelta | str | None = None,
        until: datetime | None = None,
        type: str | EventType | None = None,
        source: str | None = None,
        company: str | None = None,
    ) -> Iterator[Event]:
        """Events in the order recorded; `since` is a time, or a span back from now (`"24h"`, `"7d"`)."""
        if isinstance(since, str):
            since = parse_duration(since)
        if isinstance(since, timedelta):
            since = datetime.now(UTC) - since
        kind = EventType(type).value if type is not None else None
        wanted = browse.EventFilter(
            type=kind,
            source=check_source(self.engine, self._configured, source),
            company=company,
            since=since,
            until=until,
        )
        return self._events(wanted)

    def _events(self, wanted: browse.EventFilter) -> Iterator[Event]:
        after: int | None = None
        while True:
            page = browse.api_event_page(self.engine, wanted, after=after, limit=EVENT_BATCH)
            yield from page.items
            if page.cursor is None:
                return
            after = page.cursor[0]

    def posting(self, ref: str | int) -> PostingHistory | None:
        """One posting (its id or `SOURCE/EXTERNAL_ID`) with its versions and events, as `rolewatch show`."""
        return posting_history(self.engine, str(ref))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


def to_records(items: Iterable[PostingDetail | Event], *, description: bool = False) -> list[dict[str, Any]]:
    """Flat dicts, one per posting or event, every value a str, number, bool or None: the rows of
    `--format csv` (times ISO 8601, an event's `changes` as JSON text). `pandas.DataFrame(records)`
    takes them as they are; `description` adds a posting's text and HTML."""
    import json

    records = []
    for item in items:
        if isinstance(item, Event):
            record = plain(event_record(item))
            record["changes"] = json.dumps(record["changes"], ensure_ascii=False)
        else:
            record = posting_record(item, description)
        records.append(record)
    return records
