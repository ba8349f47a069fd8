"""Recording crawls: the diff's outcome applied in one transaction, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, timedelta, timezone

from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from rolewatch.config import SourceOptions
from rolewatch.domain import CrawlResult, CrawlVerdict, EventType, Location, PostingStatus, WorkRights
from storage.models import EventRow, PostingRow, PostingVersionRow, SourceRow
from storage.queries import PostingDetail, list_events, list_postings, posting_history
from storage.recording import CrawlRecord, record_crawl
from storage.state import load_known_digests, load_validators
from storage.sync import sync_sources
from tests.integration.storage_factory import SYDNEY, T0, Board, kinds, posting, row_counts

ETAG = {"https://acme.example/jobs.json": {"etag": '"v1"', "last_modified": "Sun, 01 Nov 2026 09:00:00 GMT"}}


def current(engine: Engine, ref: str) -> PostingDetail:
    history = posting_history(engine, ref)
    assert history is not None, ref
    return history.posting


def stored_validators(engine: Engine, name: str = "acme") -> dict[str, dict[str, str]]:
    with engine.connect() as connection:
        return dict(
            connection.execute(select(SourceRow.validators).where(SourceRow.name == name)).scalar_one()
        )


def test_a_posting_lives_through_new_changed_seen_missing_closed_and_reopened(engine: Engine) -> None:
    board = Board(engine)

    first = board.crawl([posting(1, salary=78000), posting(2)])
    assert kinds(first) == [("new", "1"), ("new", "2")]
    assert row_counts(engine)["posting_versions"] == 2

    changed = board.crawl([posting(1, salary=85000), posting(2)])
    assert kinds(changed) == [("changed", "1")]
    assert changed.events[0].changes == {"salary": ("AUD 78,000/yr", "AUD 85,000/yr")}
    assert row_counts(engine)["posting_versions"] == 3
    (stored_change,) = list_events(engine, type="changed")
    assert stored_change.changes == {"salary": ("AUD 78,000/yr", "AUD 85,000/yr")}

    before = row_counts(engine)
    seen = board.crawl([posting(2), posting(1, salary=85000)])
    assert seen.events == () and seen.verdict is CrawlVerdict.COMPLETE
    assert row_counts(engine) == {**before, "crawls": before["crawls"] + 1}
    assert current(engine, "acme/1").last_seen_at == board.clock + timedelta(seconds=5)

    missing_once = board.crawl([posting(1, salary=85000)])
    assert missing_once.events == ()
    assert current(engine, "acme/2").status is PostingStatus.OPEN and current(engine, "acme/2").misses == 1

    missing_twice = board.crawl([posting(1, salary=85000)])
    assert kinds(missing_twice) == [("closed", "2")]
    closed = current(engine, "acme/2")
    assert closed.status is PostingStatus.CLOSED and closed.closed_at == board.clock + timedelta(seconds=5)

    reopened = board.crawl([posting(1, salary=85000), posting(2)])
    assert kinds(reopened) == [("reopened", "2")]
    assert reopened.events[0].episode == 2 and current(engine, "acme/2").episode == 2
    assert (
        current(engine, "acme/2").status is PostingStatus.OPEN and current(engine, "acme/2").closed_at is None
    )
    assert [e.type for e in list_events(engine, source="acme") if e.external_id == "2"] == [
        EventType.NEW,
        EventType.CLOSED,
        EventType.REOPENED,
    ]


def test_a_failed_crawl_changes_nothing_but_is_recorded(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2)])
    before, postings_before = row_counts(engine), list_postings(engine)
    record = board.crawl([], CrawlVerdict.FAILED, reason="HTTP 503 after 3 retries")
    assert record.verdict is CrawlVerdict.FAILED and record.events == ()
    assert record.note == "HTTP 503 after 3 retries"
    assert row_counts(engine) == {**before, "crawls": before["crawls"] + 1}
    assert list_postings(engine) == postings_before


def test_a_partial_crawl_adds_and_updates_but_never_closes(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2), posting(3)])
    for _ in range(4):
        record = board.crawl(
            [posting(1, title="Data Scientist Intern (Updated)"), posting(4)], CrawlVerdict.PARTIAL
        )
        assert all(e.type is not EventType.CLOSED for e in record.events)
    assert {p.external_id: p.status for p in list_postings(engine)} == {
        "1": PostingStatus.OPEN,
        "2": PostingStatus.OPEN,
        "3": PostingStatus.OPEN,
        "4": PostingStatus.OPEN,
    }
    assert current(engine, "acme/1").title == "Data Scientist Intern (Updated)"


def test_an_empty_complete_crawl_is_suspect_until_the_loss_repeats_enough(engine: Engine) -> None:
    board = Board(engine, close_after_misses=2)
    board.crawl([posting(n) for n in range(40)])
    for _ in range(2):
        held = board.crawl([])
        assert held.verdict is CrawlVerdict.SUSPECT and held.events == ()
        assert len(list_postings(engine, open_only=True)) == 40
    accepted = board.crawl([])
    assert accepted.verdict is CrawlVerdict.COMPLETE and "accepted" in accepted.note
    assert accepted.counts["closed"] == 40
    assert list_postings(engine, open_only=True) == []
    with engine.connect() as connection:
        assert connection.execute(select(SourceRow.suspect_streak)).scalar_one() == 0


def test_recording_the_same_crawl_twice_writes_nothing_the_second_time(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2), posting(3)])
    result = board.result([posting(1, salary=90000), posting(4)])
    first = record_crawl(engine, board.source, result)
    before = row_counts(engine)
    again = record_crawl(engine, board.source, result)
    assert kinds(first) == [("changed", "1"), ("new", "4")]
    assert again.events == () and again.crawl_id == first.crawl_id
    assert row_counts(engine) == before


def test_a_failed_crawl_delivered_twice_is_recorded_once(engine: Engine) -> None:
    board = Board(engine)
    result = board.result([], CrawlVerdict.FAILED, reason="timeout")
    record_crawl(engine, board.source, result)
    record_crawl(engine, board.source, result)
    assert row_counts(engine)["crawls"] == 1


def test_a_board_closed_flag_closes_at_once(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2)])
    record = board.crawl([posting(1), posting(2, closed=True)])
    assert kinds(record) == [("closed", "2")]
    assert current(engine, "acme/2").status is PostingStatus.CLOSED


def test_a_repost_within_30_days_points_at_the_closed_posting(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1, title="ML Intern"), posting(9)])
    board.crawl([posting(9)])
    board.crawl([posting(9)])
    record = board.crawl([posting(9), posting(2, title="ML Intern")])
    assert [(e.type.value, e.repost_of) for e in record.events] == [("new", "acme/1")]
    assert current(engine, "acme/2").repost_of == "acme/1"
    assert list_events(engine, type="new")[-1].repost_of == "acme/1"


def test_closed_postings_meet_a_mostly_sighted_crawl_as_a_full_read_would(engine: Engine) -> None:
    """A crawl whose unchanged records are only sighted reads of the closed postings just those
    listed again and those closed within the repost window; what it judges must not change."""
    board = Board(engine)
    kept = [posting(n) for n in range(1, 4)]
    recent, late = posting("recent", title="Recent Role"), posting("late", title="Late Role")
    board.crawl([*kept, posting("old", title="Old Role"), posting("back", title="Back Again"), recent])
    board.crawl([*kept, recent, late])  # "late" is the newest row, and is closed long before the end
    gone = [posting(n, title=t, closed=True) for n, t in [("old", "Old Role"), ("late", "Late Role")]]
    board.crawl([*kept, recent, posting("back", closed=True), *gone])
    board.clock += timedelta(days=40)  # "old", "late" and "back" closed 40 days before the crawls below
    board.crawl([*kept, posting("recent", title="Recent Role", closed=True)])

    listing = [posting("back"), posting("new-1", title="Recent Role"), posting("new-2", title="Old Role")]
    result = replace(board.result(listing), sightings=tuple(p.external_id for p in kept))
    record = record_crawl(engine, board.source, result)
    assert sorted((e.type.value, e.external_id, e.repost_of) for e in record.events) == [
        ("new", "new-1", "acme/recent"),  # closed within 30 days: a repost
        ("new", "new-2", None),  # closed 40 days before: simply new
        ("reopened", "back", None),  # closed and listed again: reopened, not new
    ]
    assert record.counts["new"] == 2 and record.verdict.value == "complete"
    statuses = [current(engine, f"acme/{n}").status.value for n in ("1", "back", "old", "recent", "late")]
    assert statuses == ["open", "open", "closed", "closed", "closed"]
    assert (current(engine, "acme/new-1").repost_of, current(engine, "acme/new-2").repost_of) == (
        "acme/recent",
        None,
    )


def test_a_change_among_sighted_postings_says_what_changed(engine: Engine) -> None:
    """A crawl whose other records are only sighted reads the changed posting's stored values
    with its row, not apart: the event must still name each field with its old and new value."""
    board = Board(engine)
    kept = [posting(n) for n in range(1, 6)]
    board.crawl([*kept, posting("moved", salary=90_000, description="Build models.")])
    edited = posting("moved", salary=95_000, description="Build and ship models.")
    result = replace(board.result([edited]), sightings=tuple(p.external_id for p in kept))
    record = record_crawl(engine, board.source, result)
    (event,) = record.events
    assert (event.type, event.external_id) == (EventType.CHANGED, "moved")
    assert set(event.changes) == {"salary", "description"}
    assert event.changes["description"] == ("Build models.", "Build and ship models.")
    assert [value and "90,000" in value for value in event.changes["salary"]] == [True, False]
    assert record.counts["changed"] == 1 and record.counts["new"] == 0


def test_a_rewritten_posting_reads_back_as_it_was_written(engine: Engine) -> None:
    """A changed posting's rewritten row must read back field for field, and its stored
    significant values must describe the next change as well as a freshly inserted row's would."""
    board = Board(engine)
    remote = Location("Remote", country="AU", remote=True)
    base = posting(1, salary=90_000, description="Build models.")
    board.crawl([base, posting(2)])
    rewritten = replace(
        posting(1, salary=95_000, locations=(SYDNEY, remote), description="Build and ship models."),
        work_rights=WorkRights(sponsorship="none", rights=("AU citizen",)),
        deadline=T0 + timedelta(days=30),
        extra={"team": "data", "levels": [1, 2], "note": "über"},
        fingerprint="",
    )
    changed = board.crawl([rewritten, posting(2)])
    assert kinds(changed) == [("changed", "1")]

    stored = current(engine, "acme/1")
    assert (stored.locations, stored.salary, stored.work_rights) == (
        rewritten.locations,
        rewritten.salary,
        rewritten.work_rights,
    )
    assert dict(stored.extra) == rewritten.extra and stored.description_text == "Build and ship models."
    assert stored.deadline == T0 + timedelta(days=30) and stored.deadline.tzinfo is not None
    assert stored.fingerprint == rewritten.fingerprint and stored.status is PostingStatus.OPEN
    assert board.crawl([rewritten, posting(2)]).events == ()  # the stored fingerprint matches
    again = board.crawl([replace(rewritten, title="Staff Data Scientist", fingerprint=""), posting(2)])
    (event,) = again.events
    assert event.changes == {"title": ("Data Scientist Intern 1", "Staff Data Scientist")}


def set_columns(statements: list[str]) -> list[set[str]]:
    """The columns each `UPDATE postings` among `statements` sets, in order."""
    found = []
    for statement in statements:
        if statement.lstrip().upper().startswith("UPDATE POSTINGS SET"):
            assignments = statement.split(" SET ", 1)[1].split(" WHERE ", 1)[0]
            found.append({part.split("=")[0].strip().strip('"') for part in assignments.split(",")})
    return found


def test_a_rewrite_sets_only_the_indexed_columns_that_moved(engine: Engine) -> None:
    """SQLite rewrites an index only when an UPDATE sets one of its columns: a changed posting's
    row sets its content always, and its status, episode, role, misses, closing time, title and
    company only where they moved. What it leaves out must still read back as it was."""
    statements: list[str] = []

    def remember(conn: object, cursor: object, statement: str, *args: object) -> None:
        statements.append(statement)

    board = Board(engine)
    board.crawl([posting(1, salary=90_000), posting(2), posting(3)])
    event.listen(engine, "before_cursor_execute", remember)
    try:
        board.crawl([posting(1, salary=95_000), posting(2), posting(3)])  # pay only
        (pay,) = set_columns(statements)
        assert {"salary", "description_text", "fingerprint", "raw_digest", "last_seen_at"} <= pay
        assert pay.isdisjoint({"status", "episode", "role_key", "misses", "closed_at", "title", "company"})

        statements.clear()
        board.crawl([posting(1, salary=95_000, title="ML Engineer Intern"), posting(2), posting(3)])
        (retitled,) = set_columns(statements)
        assert {"title", "role_key"} <= retitled
        assert retitled.isdisjoint({"status", "episode", "misses", "closed_at", "company"})

        statements.clear()
        board.crawl([posting(1, salary=95_000, title="ML Engineer Intern"), posting(3)])  # 2 missed once
        assert current(engine, "acme/2").misses == 1
        statements.clear()
        came_back = board.crawl(
            [posting(1, salary=95_000, title="ML Engineer Intern"), posting(2, company="Acme AU"), posting(3)]
        )
        assert kinds(came_back) == [("changed", "2")]
        (returned,) = set_columns(statements)
        assert {"misses", "company", "role_key"} <= returned  # the role is the company's too
        assert returned.isdisjoint({"status", "episode", "closed_at", "title"})
    finally:
        event.remove(engine, "before_cursor_execute", remember)

    one, two = current(engine, "acme/1"), current(engine, "acme/2")
    assert (one.title, one.status, one.episode, one.misses, one.closed_at) == (
        "ML Engineer Intern",
        PostingStatus.OPEN,
        1,
        0,
        None,
    )
    assert (two.company, two.misses, two.status, two.title) == (
        "Acme AU",
        0,
        PostingStatus.OPEN,
        "Data Scientist Intern 2",
    )


def test_a_repost_after_30_days_is_simply_new(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1, title="ML Intern"), posting(9)])
    board.crawl([posting(9)])
    board.crawl([posting(9)])
    board.clock += timedelta(days=31)
    record = board.crawl([posting(9), posting(2, title="ML Intern")])
    assert [(e.type.value, e.repost_of) for e in record.events] == [("new", None)]


def test_the_same_role_open_on_another_source_is_a_duplicate(engine: Engine) -> None:
    Board(engine, "simplify").crawl([posting("abc", source="simplify", title="ML Intern")])
    record = Board(engine, "acme").crawl([posting(1, title="ML Intern"), posting(2, title="Other")])
    duplicates = {e.external_id: e.duplicate_of for e in record.events}
    assert duplicates == {"1": "simplify/abc", "2": None}
    assert current(engine, "acme/1").duplicate_of == "simplify/abc"


def test_timestamps_read_back_timezone_aware_in_utc(engine: Engine) -> None:
    sydney = timezone(timedelta(hours=11))
    board = Board(engine)
    board.crawl([posting(1, posted_at=T0.astimezone(sydney))])
    stored = current(engine, "acme/1")
    for value in (stored.posted_at, stored.first_seen_at, stored.last_seen_at, list_events(engine)[0].at):
        assert value is not None and value.tzinfo is not None and value.utcoffset() == timedelta(0)
    assert stored.posted_at == T0 and stored.posted_at.tzinfo == UTC


def test_a_not_modified_crawl_only_touches_last_seen(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2)], validators=ETAG)
    before = row_counts(engine)
    record = board.crawl([], unchanged=True, validators={"https://acme.example/jobs.json": {"etag": '"v2"'}})
    assert record.verdict is CrawlVerdict.COMPLETE and record.events == ()
    assert row_counts(engine) == {**before, "crawls": before["crawls"] + 1}
    assert {p.last_seen_at for p in list_postings(engine)} == {board.clock + timedelta(seconds=5)}
    assert stored_validators(engine) == ETAG


def test_a_crawl_that_sees_every_open_posting_rewrites_no_posting_row(engine: Engine) -> None:
    """The source's `all_seen_at` stands for every open posting's sighting: one row, not one per posting."""
    board = Board(engine)
    board.crawl([posting(1), posting(2), posting(3)], validators=ETAG)
    statements: list[str] = []

    def note(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(engine, "before_cursor_execute", note)
    try:
        board.crawl([], unchanged=True)
        board.crawl([posting(3), posting(1), posting(2)])
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert not [s for s in statements if s.startswith("UPDATE postings")], statements
    seen_at = board.clock + timedelta(seconds=5)
    assert {p.last_seen_at for p in list_postings(engine)} == {seen_at}
    assert current(engine, "acme/2").last_seen_at == seen_at

    board.crawl([posting(1), posting(3)])
    missing = current(engine, "acme/2")
    assert missing.misses == 1 and missing.last_seen_at == seen_at, "a miss keeps the last true sighting"
    board.crawl([posting(1), posting(3)])
    board.crawl([posting(1), posting(3)], validators=ETAG)
    closed = current(engine, "acme/2")
    assert closed.status is PostingStatus.CLOSED and closed.last_seen_at == seen_at
    board.crawl([], unchanged=True)
    later = board.clock + timedelta(seconds=5)
    assert current(engine, "acme/2").last_seen_at == seen_at, "a closed posting is not seen by later crawls"
    assert current(engine, "acme/1").last_seen_at == later


def test_a_not_modified_crawl_while_a_miss_is_pending_sees_only_what_the_last_body_listed(
    engine: Engine,
) -> None:
    """Storage withholds validators while a miss is pending; should a 304 come anyway, the posting
    absent from that body stays missing and unseen, and the others are seen."""
    board = Board(engine)
    board.crawl([posting(1), posting(2)], validators=ETAG)
    first_seen = board.clock + timedelta(seconds=5)
    board.crawl([posting(1)])
    record = board.crawl([], unchanged=True)
    assert record.verdict is CrawlVerdict.COMPLETE and record.events == ()
    missing = current(engine, "acme/2")
    assert missing.status is PostingStatus.OPEN and missing.misses == 1 and missing.last_seen_at == first_seen
    assert current(engine, "acme/1").last_seen_at == board.clock + timedelta(seconds=5)


def test_validators_are_kept_only_from_a_complete_crawl_that_parsed(engine: Engine) -> None:
    board = Board(engine)
    other = {"https://acme.example/jobs.json": {"etag": '"other"'}}
    board.crawl([posting(n) for n in range(10)], CrawlVerdict.PARTIAL, validators=other)
    board.crawl([], CrawlVerdict.FAILED, validators=other)
    assert stored_validators(engine) == {}
    board.crawl([posting(n) for n in range(10)], validators=ETAG)
    assert stored_validators(engine) == ETAG
    assert board.crawl([posting(0)], validators=other).verdict is CrawlVerdict.SUSPECT
    assert stored_validators(engine) == ETAG


def test_validators_are_withheld_while_a_missing_posting_awaits_its_second_miss(engine: Engine) -> None:
    board = Board(engine)
    board.crawl([posting(1), posting(2), posting(3)], validators=ETAG)
    assert load_validators(engine, ["acme"]) == {"acme": ETAG}
    board.crawl([posting(1), posting(2)], validators=ETAG)
    assert load_validators(engine, ["acme"]) == {}
    board.crawl([posting(1), posting(2)], validators=ETAG)
    assert load_validators(engine, ["acme", "unknown"]) == {"acme": ETAG}


def test_a_pending_miss_withholds_only_its_own_sources_validators(engine: Engine) -> None:
    acme, wombat = Board(engine, "acme"), Board(engine, "wombat")
    acme.crawl([posting(1), posting(2)], validators=ETAG)
    wombat.crawl([posting(7, source="wombat"), posting(8, source="wombat")], validators=ETAG)
    wombat.crawl([posting(7, source="wombat")], validators=ETAG)  # posting 8 awaits its second miss
    assert load_validators(engine, ["acme", "wombat"]) == {"acme": ETAG}


def test_known_digests_pair_each_open_posting_with_its_own_digest(engine: Engine) -> None:
    """The crawler skips a record whose digest it is handed, as a sighting of the id paired with
    it: the pairs must survive the database's aggregation, whatever the board put in its ids."""
    ids = ['q"1', "back\\slash", "ünï 😀", "[2,3]", "plain"]
    acme, wombat = Board(engine, "acme"), Board(engine, "wombat")
    acme.crawl(
        [replace(posting(n), raw_digest=f"d-{n}") for n in ids]
        + [
            posting("no-digest"),  # parsed on the path that keeps none
            replace(posting("dated"), raw_digest="d-dated", deadline=T0 + timedelta(days=60)),
            replace(posting("gone", closed=True), raw_digest="d-gone"),
        ]
    )
    wombat.crawl([replace(posting("plain", source="wombat"), raw_digest="w-plain")])
    known = load_known_digests(engine, ["acme", "wombat", "unknown"])
    assert known == {"acme": {n: f"d-{n}" for n in ids}, "wombat": {"plain": "w-plain"}}
    assert known["acme"].by_digest() == {f"d-{n}": n for n in ids}
    assert load_known_digests(engine, []) == {}


def test_sources_are_synced_and_a_removed_source_keeps_its_history(engine: Engine) -> None:
    from rolewatch.config import SourceConfig

    acme = SourceConfig.model_construct(name="acme", type="greenhouse", options=SourceOptions())
    gone = SourceConfig.model_construct(name="gone", type="lever", options=SourceOptions())
    sync_sources(engine, [acme, gone])
    Board(engine, "gone").crawl([posting(1, source="gone")])
    moved = SourceConfig.model_construct(
        name="acme", type="greenhouse", options=SourceOptions(base_url="http://127.0.0.1:9")
    )
    sync_sources(engine, [moved])
    with engine.connect() as connection:
        configs = dict(connection.execute(select(SourceRow.name, SourceRow.config)).all())
    assert configs["acme"]["base_url"] == "http://127.0.0.1:9" and configs["acme"]["type"] == "greenhouse"
    assert "gone" in configs
    assert [p.source for p in list_postings(engine)] == ["gone"]


def test_returned_events_carry_their_database_ids(engine: Engine) -> None:
    record = Board(engine).crawl([posting(1), posting(2), posting(3)])
    assert [e.id for e in record.events] == [e.id for e in list_events(engine)]
    assert all(e.id is not None for e in record.events)


def test_statements_do_not_grow_with_the_number_of_postings(engine: Engine) -> None:
    def statements_for(size: int, name: str) -> int:
        board = Board(engine, name)
        board.crawl([posting(n, source=name) for n in range(size)])
        changed = [posting(n, source=name, salary=50000) for n in range(size // 2)]
        unchanged = [posting(n, source=name) for n in range(size // 2, size - 2)]
        executed: list[str] = []

        def count(*args: object) -> None:
            executed.append(str(args[2]))

        event.listen(engine, "before_cursor_execute", count)
        try:
            board.crawl([*changed, *unchanged, posting(f"new-{size}", source=name)])
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(executed)

    assert statements_for(10, "small") == statements_for(300, "large")


def test_two_crawls_of_one_source_recorded_at_once_announce_a_posting_once(engine: Engine) -> None:
    first, second = Board(engine), Board(engine, start=T0 + timedelta(minutes=1))
    results = [first.result([posting(1), posting(2)]), second.result([posting(1), posting(2)])]
    gate = threading.Barrier(2)

    def record(result: CrawlResult) -> CrawlRecord:
        gate.wait()
        return record_crawl(engine, first.source, result)

    with ThreadPoolExecutor(max_workers=2) as pool:
        records = list(pool.map(record, results))
    assert sorted(len(r.events) for r in records) == [0, 2]
    assert [e.type for e in list_events(engine)] == [EventType.NEW, EventType.NEW]
    assert row_counts(engine)["postings"] == 2


def test_new_postings_get_their_own_ids_whatever_other_sources_inserted_in_between(engine: Engine) -> None:
    """New postings' ids are read back as this source's rows above the table's newest id before the
    insert (`_NEWEST_ID`): with another source's rows and this one's closed posting newer than its
    open ones, every event, version and row still names the posting it is about."""
    acme, zeta = Board(engine, "acme"), Board(engine, "zeta", start=T0 + timedelta(minutes=1))
    acme.crawl([posting(1), posting(2)])
    zeta.crawl([posting(n, source="zeta", company="Zeta") for n in range(1, 6)])
    acme.crawl([posting(1), posting(2), posting(3)])
    acme.crawl([posting(1), posting(2)])
    closing = acme.crawl([posting(1), posting(2)])  # 3, the newest acme row, closes
    assert kinds(closing) == [("closed", "3")]
    zeta.crawl([posting(n, source="zeta", company="Zeta") for n in range(1, 8)])
    latest = acme.crawl([posting(1), posting(2), posting(4), posting(5)])
    assert kinds(latest) == [("new", "4"), ("new", "5")]
    with engine.connect() as connection:
        rows = connection.execute(
            select(SourceRow.name, PostingRow.id, PostingRow.external_id).join(
                SourceRow, SourceRow.id == PostingRow.source_id
            )
        ).all()
        events = connection.execute(
            select(EventRow.source_id, EventRow.posting_id, EventRow.title, EventRow.id)
        ).all()
        versions = connection.execute(select(PostingVersionRow.posting_id, PostingVersionRow.snapshot)).all()
        source_ids = dict(connection.execute(select(SourceRow.id, SourceRow.name)).all())
    by_id = {posting_id: (name, external_id) for name, posting_id, external_id in rows}
    assert sorted(by_id.values()) == [("acme", str(n)) for n in range(1, 6)] + [
        ("zeta", str(n)) for n in range(1, 8)
    ]
    assert len(events) == 5 + 7 + 1  # every posting's "new", and 3's "closed"
    for source_id, posting_id, title, _ in events:
        name, external_id = by_id[posting_id]
        assert (source_ids[source_id], title) == (name, f"Data Scientist Intern {external_id}")
    assert len(versions) == 12
    for posting_id, snapshot in versions:
        assert by_id[posting_id] == (snapshot["source"], snapshot["external_id"])
    posting_of_event = {event_id: posting_id for _, posting_id, _, event_id in events}
    assert [by_id[posting_of_event[event.id or 0]] for event in latest.events] == [
        ("acme", "4"),
        ("acme", "5"),
    ]
