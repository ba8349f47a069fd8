"""The diff's rules, tested without a database: examples first, then properties."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from rolewatch.domain import CrawlResult, CrawlVerdict, EventType, Location, Posting, PostingStatus, Salary
from storage.diff import DiffOutcome, Policy, SourceState, apply_outcome, diff

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
POLICY = Policy(close_after_misses=2, max_drop=0.5)


def posting(
    n: int, *, title: str | None = None, salary: float | None = None, closed: bool = False
) -> Posting:
    return Posting(
        source="acme",
        external_id=str(n),
        title=title or f"Data Scientist Intern {n}",
        company="Acme",
        url=f"https://acme.example/jobs/{n}",
        locations=(Location("Sydney", city="Sydney", country="AU"),),
        employment_type="intern",
        salary=Salary(salary, salary, "AUD", "year") if salary else None,
        description_text=f"Role number {n}.",
        closed=closed,
    )


class Board:
    """A source's stored state driven crawl after crawl, the way storage would drive it."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.state = SourceState("acme")
        self.policy = policy
        self.clock = T0

    def crawl(self, postings: list[Posting], verdict: CrawlVerdict = CrawlVerdict.COMPLETE) -> DiffOutcome:
        self.clock += timedelta(minutes=30)
        result = self.result(postings, verdict)
        outcome = diff(self.state, result, self.policy)
        self.state = apply_outcome(self.state, result, outcome)
        return outcome

    def result(self, postings: list[Posting], verdict: CrawlVerdict = CrawlVerdict.COMPLETE) -> CrawlResult:
        return CrawlResult("acme", verdict, self.clock, self.clock + timedelta(seconds=2), tuple(postings))

    def status(self, external_id: str) -> PostingStatus:
        return self.state.postings[external_id].status


def types(outcome: DiffOutcome) -> list[tuple[str, str]]:
    return sorted((e.type.value, e.external_id) for e in outcome.events)


def test_first_crawl_announces_every_open_posting_as_new() -> None:
    outcome = Board().crawl([posting(1), posting(2)])
    assert types(outcome) == [("new", "1"), ("new", "2")]
    assert outcome.verdict is CrawlVerdict.COMPLETE


def test_changed_posting_lists_each_field_old_and_new() -> None:
    board = Board()
    board.crawl([posting(1, salary=78000)])
    outcome = board.crawl([posting(1, salary=85000)])
    assert types(outcome) == [("changed", "1")]
    assert outcome.events[0].changes == {"salary": ("AUD 78,000/yr", "AUD 85,000/yr")}
    assert outcome.writes[0].new_version


def test_unchanged_recrawl_writes_nothing() -> None:
    board = Board()
    board.crawl([posting(1), posting(2)])
    outcome = board.crawl([posting(2), posting(1)])
    assert outcome.events == () and outcome.writes == ()
    assert sorted(outcome.seen) == ["1", "2"]


def test_closure_needs_consecutive_complete_misses() -> None:
    board = Board()
    board.crawl([posting(1), posting(2), posting(3)])
    assert types(board.crawl([posting(1), posting(2)])) == []
    assert board.status("3") is PostingStatus.OPEN
    assert types(board.crawl([posting(1), posting(2)])) == [("closed", "3")]


def test_a_sighting_between_misses_resets_the_count() -> None:
    board = Board()
    board.crawl([posting(1), posting(2), posting(3)])
    board.crawl([posting(1), posting(2)])
    board.crawl([posting(1), posting(2), posting(3)])
    assert types(board.crawl([posting(1), posting(2)])) == []


def test_failed_crawl_never_closes_or_changes_anything() -> None:
    board = Board()
    board.crawl([posting(1), posting(2)])
    before = board.state
    for _ in range(5):
        outcome = board.crawl([], CrawlVerdict.FAILED)
        assert outcome.verdict is CrawlVerdict.FAILED and outcome.events == ()
    assert board.state.postings == before.postings


def test_partial_crawl_adds_and_updates_but_never_closes() -> None:
    board = Board()
    board.crawl([posting(1), posting(2), posting(3)])
    for _ in range(4):
        outcome = board.crawl(
            [posting(1, title="Data Scientist Intern (Updated)"), posting(4)], CrawlVerdict.PARTIAL
        )
    assert board.status("2") is PostingStatus.OPEN and board.status("3") is PostingStatus.OPEN
    assert "4" in board.state.postings
    assert all(event.type is not EventType.CLOSED for event in outcome.events)


def test_empty_listing_where_postings_were_open_is_suspect_and_held() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(40)])
    first = board.crawl([])
    assert first.verdict is CrawlVerdict.SUSPECT and first.events == ()
    second = board.crawl([])
    assert second.verdict is CrawlVerdict.SUSPECT and second.events == ()
    assert all(p.status is PostingStatus.OPEN for p in board.state.postings.values())


def test_the_same_loss_is_accepted_after_close_after_misses_plus_one_crawls() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(10)])
    outcomes = [board.crawl([posting(0)]) for _ in range(POLICY.close_after_misses + 1)]
    assert [o.verdict for o in outcomes] == [
        CrawlVerdict.SUSPECT,
        CrawlVerdict.SUSPECT,
        CrawlVerdict.COMPLETE,
    ]
    assert len([e for e in outcomes[-1].events if e.type is EventType.CLOSED]) == 9
    assert "accepted" in outcomes[-1].note


def test_a_small_loss_is_not_suspect() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(10)])
    assert board.crawl([posting(n) for n in range(6)]).verdict is CrawlVerdict.COMPLETE


def test_board_closure_signal_closes_at_once() -> None:
    board = Board()
    board.crawl([posting(1), posting(2)])
    outcome = board.crawl([posting(1), posting(2, closed=True)])
    assert types(outcome) == [("closed", "2")]
    assert board.status("2") is PostingStatus.CLOSED


def test_posting_first_seen_closed_is_kept_but_not_announced() -> None:
    outcome = Board().crawl([posting(1, closed=True)])
    assert outcome.events == () and outcome.writes[0].status is PostingStatus.CLOSED


def test_past_deadline_closes() -> None:
    board = Board()
    board.crawl([posting(1)])
    expired = Posting(**{**posting(1).__dict__, "deadline": T0, "fingerprint": ""})
    assert types(board.crawl([expired])) == [("closed", "1")]


def test_reopened_is_never_a_second_new_and_bumps_the_episode() -> None:
    board = Board()
    board.crawl([posting(1), posting(2)])
    board.crawl([posting(1)])
    board.crawl([posting(1)])
    outcome = board.crawl([posting(1), posting(2)])
    assert types(outcome) == [("reopened", "2")]
    assert outcome.events[0].episode == 2


def test_repost_with_new_id_within_window_carries_repost_of() -> None:
    board = Board()
    board.crawl([posting(1, title="ML Intern"), posting(9)])
    board.crawl([posting(9)])
    board.crawl([posting(9)])
    outcome = board.crawl([posting(9), posting(2, title="ML Intern")])
    assert [(e.type.value, e.repost_of) for e in outcome.events] == [("new", "1")]


def test_role_open_on_another_source_carries_duplicate_of() -> None:
    board = Board()
    board.state = SourceState("acme", open_elsewhere={})
    from storage.diff import posting_role_key

    key = posting_role_key(posting(1))
    board.state = SourceState("acme", open_elsewhere={key: "simplify/abc"})
    assert board.crawl([posting(1)]).events[0].duplicate_of == "simplify/abc"


def test_applying_the_same_crawl_twice_yields_nothing() -> None:
    board = Board()
    board.crawl([posting(1), posting(2), posting(3)])
    board.clock += timedelta(hours=1)
    result = board.result([posting(1)])
    first = diff(board.state, result, POLICY)
    board.state = apply_outcome(board.state, result, first)
    again = diff(board.state, result, POLICY)
    assert again.events == () and again.writes == () and again.misses == {}


def test_not_modified_listing_keeps_everything_open_and_quiet() -> None:
    board = Board()
    board.crawl([posting(1), posting(2)])
    board.clock += timedelta(hours=1)
    result = CrawlResult("acme", CrawlVerdict.COMPLETE, board.clock, board.clock, (), unchanged=True)
    outcome = diff(board.state, result, POLICY)
    assert outcome.events == () and sorted(outcome.seen) == ["1", "2"] and outcome.misses == {}


def test_a_suspect_crawl_is_not_a_miss() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(10)])
    assert board.crawl([]).verdict is CrawlVerdict.SUSPECT
    after = board.crawl([posting(n) for n in range(9)])  # 9 is gone: one real miss, not a second
    assert after.verdict is CrawlVerdict.COMPLETE and after.events == ()
    assert board.status("9") is PostingStatus.OPEN
    assert types(board.crawl([posting(n) for n in range(9)])) == [("closed", "9")]


def test_a_posting_listed_by_a_suspect_crawl_is_seen() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(10)])
    board.crawl([posting(n) for n in range(9)])  # 9: first miss
    assert board.crawl([posting(9)]).verdict is CrawlVerdict.SUSPECT  # 9 is listed: its count resets
    assert board.state.postings["9"].misses == 0


# Properties ---------------------------------------------------------------------------------

ids = st.integers(min_value=0, max_value=12)
listing = st.lists(st.tuples(ids, st.sampled_from([None, 50_000.0, 60_000.0]), st.booleans()), max_size=12)
verdicts = st.sampled_from([CrawlVerdict.COMPLETE, CrawlVerdict.PARTIAL, CrawlVerdict.FAILED])


def build(rows: list[tuple[int, float | None, bool]]) -> list[Posting]:
    return [posting(n, salary=pay, closed=closed) for n, pay, closed in rows]


@settings(max_examples=150, deadline=None)
@given(history=st.lists(st.tuples(listing, verdicts), max_size=6), last=listing, verdict=verdicts)
def test_property_the_same_crawl_applied_twice_is_quiet(history, last, verdict) -> None:
    board = Board()
    for rows, v in history:
        board.crawl(build(rows), v)
    board.clock += timedelta(minutes=30)
    result = board.result(build(last), verdict)
    board.state = apply_outcome(board.state, result, diff(board.state, result, POLICY))
    again = diff(board.state, result, POLICY)
    assert again.events == () and again.writes == () and again.misses == {} and again.closures == {}


@settings(max_examples=150, deadline=None)
@given(history=st.lists(st.tuples(listing, verdicts), max_size=6), last=listing, seed=st.integers())
def test_property_listing_order_never_matters(history, last, seed) -> None:
    board = Board()
    for rows, v in history:
        board.crawl(build(rows), v)
    board.clock += timedelta(minutes=30)
    shuffled = build(last)
    random.Random(seed).shuffle(shuffled)
    a = diff(board.state, board.result(build(last)), POLICY)
    b = diff(board.state, board.result(shuffled), POLICY)
    assert a == b


@settings(max_examples=150, deadline=None)
@given(history=st.lists(st.tuples(listing, verdicts), max_size=8))
def test_property_only_complete_crawls_close_absent_postings(history) -> None:
    board = Board()
    for rows, verdict in history:
        listed = {str(n) for n, _, _ in rows}
        outcome = board.crawl(build(rows), verdict)
        absent_closures = [
            e for e in outcome.events if e.type is EventType.CLOSED and e.external_id not in listed
        ]
        if outcome.verdict is not CrawlVerdict.COMPLETE:
            assert absent_closures == []
            assert outcome.closures == {}


@settings(max_examples=100, deadline=None)
@given(history=st.lists(st.tuples(listing, verdicts), max_size=8))
def test_property_an_identity_is_new_at_most_once_and_reopens_only_after_closing(history) -> None:
    board = Board()
    announced: set[str] = set()
    for rows, verdict in history:
        before = {k: v.status for k, v in board.state.postings.items()}
        for event in board.crawl(build(rows), verdict).events:
            if event.type is EventType.NEW:
                assert event.external_id not in announced and event.external_id not in before
                announced.add(event.external_id)
            if event.type is EventType.REOPENED:
                assert before[event.external_id] is PostingStatus.CLOSED
            if event.type is EventType.CLOSED:
                assert before.get(event.external_id) is PostingStatus.OPEN


def test_new_closed_reopened_round_trip_many_times() -> None:
    board = Board(Policy(close_after_misses=1, max_drop=1.0))
    board.crawl([posting(0), posting(1)])
    seen: list[tuple[str, int]] = []
    for _ in range(3):
        seen += [(e.type.value, e.episode) for e in board.crawl([posting(0)]).events]
        seen += [(e.type.value, e.episode) for e in board.crawl([posting(0), posting(1)]).events]
    assert seen == [
        ("closed", 1),
        ("reopened", 2),
        ("closed", 2),
        ("reopened", 3),
        ("closed", 3),
        ("reopened", 4),
    ]


def test_sightings_count_as_listed_and_unchanged() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(4)])
    board.clock += timedelta(minutes=30)
    result = CrawlResult(
        "acme", CrawlVerdict.COMPLETE, board.clock, board.clock, (posting(0),), sightings=("1", "2", "3")
    )
    outcome = diff(board.state, result, POLICY)
    assert outcome.verdict is CrawlVerdict.COMPLETE and outcome.events == ()
    assert sorted(outcome.seen) == ["0", "1", "2", "3"] and outcome.misses == {}


def test_a_listing_of_sightings_only_is_not_empty() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(3)])
    board.clock += timedelta(minutes=30)
    result = CrawlResult(
        "acme", CrawlVerdict.COMPLETE, board.clock, board.clock, (), sightings=("0", "1", "2")
    )
    assert diff(board.state, result, POLICY).verdict is CrawlVerdict.COMPLETE


def only_sighted(state: SourceState, ids: set[str]) -> SourceState:
    """`state` as storage loads it when the crawl only sighted the open postings `ids`: those
    kept as their misses alone, not read in full."""
    moved = {pid for pid in ids if state.postings[pid].status is PostingStatus.OPEN}
    return replace(
        state,
        postings={pid: stored for pid, stored in state.postings.items() if pid not in moved},
        sighted={pid: state.postings[pid].misses for pid in moved},
    )


@settings(max_examples=200, deadline=None)
@given(
    history=st.lists(st.tuples(listing, verdicts), max_size=6),
    listed=st.sets(st.integers(min_value=0, max_value=5)),
    sighted=st.sets(st.integers(min_value=0, max_value=5)),
    verdict=verdicts,
)
def test_property_open_postings_kept_as_sightings_alone_are_judged_as_if_read_in_full(
    history, listed, sighted, verdict
) -> None:
    board = Board()
    for rows, v in history:
        board.crawl(build(rows), v)
    board.clock += timedelta(minutes=30)
    known = {pid for pid, stored in board.state.postings.items() if stored.status is PostingStatus.OPEN}
    sightings = {str(n) for n in sighted - listed} & known
    result = replace(
        board.result([posting(n) for n in sorted(listed)], verdict), sightings=tuple(sorted(sightings))
    )
    assert diff(only_sighted(board.state, sightings), result, POLICY) == diff(board.state, result, POLICY)


def test_a_posting_kept_as_a_sighting_must_have_been_sighted_and_not_listed() -> None:
    board = Board()
    board.crawl([posting(n) for n in range(3)])
    board.clock += timedelta(minutes=30)
    state = only_sighted(board.state, {"1", "2"})
    not_sighted = replace(board.result([posting(0)]), sightings=("1",))
    listed = replace(board.result([posting(0), posting(1)]), sightings=("1", "2"))
    for result in (not_sighted, listed):
        with pytest.raises(ValueError, match="only sighted"):
            diff(state, result, POLICY)
    fine = replace(board.result([posting(0)]), sightings=("1", "2"))
    assert sorted(diff(state, fine, POLICY).seen) == ["0", "1", "2"]


# A crawl is a listing plus the verdict Scrapy gave it; `[]` complete is an empty 200, and a listing
# that keeps one or two of six postings loses more than max_drop. The diff judges which are suspect.
rounds = st.lists(
    st.tuples(st.lists(st.integers(min_value=0, max_value=5), max_size=6), verdicts), min_size=1, max_size=12
)


def replay(history: list[tuple[list[int], CrawlVerdict]], policy: Policy) -> tuple[list[DiffOutcome], Board]:
    board = Board(policy)
    board.crawl([posting(n) for n in range(6)])
    outcomes = [board.crawl([posting(n) for n in sorted(set(ids))], verdict) for ids, verdict in history]
    return outcomes, board


@settings(max_examples=300, deadline=None)
@given(history=rounds, misses=st.integers(min_value=1, max_value=3))
@example(
    history=[
        ([], CrawlVerdict.COMPLETE),
        ([0, 1], CrawlVerdict.COMPLETE),
        ([], CrawlVerdict.COMPLETE),
        ([], CrawlVerdict.COMPLETE),
        ([0], CrawlVerdict.COMPLETE),
    ],
    misses=3,
)
def test_property_a_closure_by_absence_needs_that_many_complete_misses_in_a_row(history, misses) -> None:
    """Closed for absence ⇒ absent from at least `close_after_misses` crawls that counted since it was
    last listed: a crawl counts when judged complete, or when suspect in a streak that a later crawl
    accepted (a failed crawl is no evidence either way)."""
    policy = Policy(close_after_misses=misses, max_drop=0.5)
    outcomes, _ = replay(history, policy)

    def accepted_later(j: int) -> bool:
        for later in outcomes[j + 1 :]:
            if later.verdict is CrawlVerdict.COMPLETE:
                return "accepted" in later.note
        return False

    for i, outcome in enumerate(outcomes):
        for external_id in outcome.closures:
            absent_since = i
            while absent_since > 0 and (
                int(external_id) not in history[absent_since - 1][0]
                or outcomes[absent_since - 1].verdict is CrawlVerdict.FAILED
            ):
                absent_since -= 1
            counted = [
                j
                for j in range(absent_since, i + 1)
                if outcomes[j].verdict is CrawlVerdict.COMPLETE
                or (outcomes[j].verdict is CrawlVerdict.SUSPECT and accepted_later(j))
            ]
            assert len(counted) >= misses, (external_id, i, [o.verdict for o in outcomes])
            assert outcome.verdict is CrawlVerdict.COMPLETE


@settings(max_examples=300, deadline=None)
@given(history=rounds, misses=st.integers(min_value=1, max_value=3))
def test_property_suspect_crawls_only_delay_closures_unless_their_loss_is_accepted(history, misses) -> None:
    """Dropping every crawl judged suspect can only close postings sooner, never later or fewer:
    on its own a suspect crawl is evidence of nothing (unless its loss was later accepted)."""
    policy = Policy(close_after_misses=misses, max_drop=0.5)
    outcomes, with_suspects = replay(history, policy)
    if any("accepted" in o.note for o in outcomes):
        return
    kept = [
        crawl for crawl, o in zip(history, outcomes, strict=True) if o.verdict is not CrawlVerdict.SUSPECT
    ]
    without, board = replay(kept, policy)
    if any(o.verdict is CrawlVerdict.SUSPECT for o in without):
        return  # judging changed without the dropped crawls; the comparison says nothing then
    closed_with = {pid for pid, p in with_suspects.state.postings.items() if p.status is PostingStatus.CLOSED}
    closed_without = {pid for pid, p in board.state.postings.items() if p.status is PostingStatus.CLOSED}
    reopened = {e.external_id for o in outcomes + without for e in o.events if e.type is EventType.REOPENED}
    assert closed_with - reopened <= closed_without | reopened
