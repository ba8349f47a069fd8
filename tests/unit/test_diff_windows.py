"""The diff for window listings (a feed's newest N items): absence is no miss; `max_age` unseen closes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

from rolewatch.domain import CrawlResult, CrawlVerdict, EventType, Location, Posting, PostingStatus
from storage.diff import DiffOutcome, Policy, SourceState, apply_outcome, diff

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
POLICY = Policy(close_after_misses=2, max_drop=0.5)
EVERY = timedelta(minutes=30)


def posting(n: int, *, closed: bool = False, deadline: datetime | None = None) -> Posting:
    return Posting(
        source="feed",
        external_id=f"item-{n}",
        title=f"Ranger {n}",
        company="Quoll Conservancy",
        url=f"https://quoll.example/jobs/{n}",
        locations=(Location("Hobart", city="Hobart", country="AU"),),
        description_text=f"Item number {n}.",
        closed=closed,
        deadline=deadline,
    )


class Feed:
    """A source's stored state driven crawl after crawl, every `EVERY`, the way storage would drive it."""

    def __init__(self, max_age: timedelta | None = timedelta(hours=2), window: bool = True) -> None:
        self.state = SourceState("feed")
        self.max_age = max_age
        self.window = window
        self.clock = T0

    def crawl(
        self,
        items: list[int] | list[Posting],
        verdict: CrawlVerdict = CrawlVerdict.COMPLETE,
        **changes: object,
    ) -> DiffOutcome:
        self.clock += EVERY
        postings = tuple(p if isinstance(p, Posting) else posting(p) for p in items)
        result = CrawlResult(
            "feed",
            verdict,
            self.clock,
            self.clock + timedelta(seconds=1),
            postings,
            closes_by_absence=not self.window,
            max_age=self.max_age if self.window else None,
        )
        result = dataclasses.replace(result, **changes)  # type: ignore[arg-type]
        outcome = diff(self.state, result, POLICY)
        self.state = apply_outcome(self.state, result, outcome)
        return outcome

    def status(self, n: int) -> PostingStatus:
        return self.state.postings[f"item-{n}"].status


def kinds(outcome: DiffOutcome) -> list[tuple[str, str]]:
    return sorted((event.type.value, event.external_id) for event in outcome.events)


def test_items_scrolling_out_of_a_window_are_never_missed_or_closed() -> None:
    feed = Feed(max_age=None)
    feed.crawl([1, 2, 3])
    moved = feed.crawl([2, 3, 4])
    assert kinds(moved) == [("new", "item-4")]
    assert (moved.misses, moved.closures) == ({}, {})
    for _ in range(20):
        quiet = feed.crawl([2, 3, 4])
        assert quiet.events == () and quiet.misses == {}
    assert feed.status(1) is PostingStatus.OPEN and feed.state.postings["item-1"].misses == 0


def test_a_regular_listing_still_closes_after_its_misses() -> None:
    board = Feed(window=False)
    board.crawl([1, 2, 3])
    first_miss = board.crawl([2, 3])
    assert first_miss.misses == {"item-1": 1} and first_miss.events == ()
    assert kinds(board.crawl([2, 3])) == [("closed", "item-1")]


def test_a_window_losing_most_items_at_once_is_not_suspect_but_an_empty_one_is() -> None:
    feed = Feed()
    feed.crawl(list(range(1, 11)))
    turned_over = feed.crawl([11, 12])
    assert turned_over.verdict is CrawlVerdict.COMPLETE and turned_over.note == ""
    emptied = feed.crawl([])
    assert emptied.verdict is CrawlVerdict.SUSPECT and emptied.note.startswith("came back empty")


def test_an_item_unseen_for_max_age_closes_on_the_first_complete_crawl_after() -> None:
    feed = Feed(max_age=timedelta(hours=2))
    feed.crawl([1, 2])
    last_seen = feed.state.postings["item-1"].last_seen_at
    assert last_seen == feed.clock + timedelta(seconds=1)
    for _ in range(3):  # 30, 60 and 90 minutes unseen
        assert feed.crawl([2]).events == ()
    aged = feed.crawl([2])  # 120 minutes unseen
    assert kinds(aged) == [("closed", "item-1")]
    assert aged.closures == {"item-1": feed.clock + timedelta(seconds=1)}
    assert feed.status(1) is PostingStatus.CLOSED and feed.status(2) is PostingStatus.OPEN


def test_being_listed_again_resets_the_age_and_only_complete_crawls_age_anything_out() -> None:
    feed = Feed(max_age=timedelta(hours=1))
    feed.crawl([1, 2])
    feed.crawl([2])
    feed.crawl([1, 2])  # back in the window before it aged out: just seen again
    assert feed.crawl([2]).events == ()
    held = feed.crawl([2], verdict=CrawlVerdict.PARTIAL)  # an hour unseen, but the crawl is partial
    assert held.events == () and feed.status(1) is PostingStatus.OPEN
    assert kinds(feed.crawl([2])) == [("closed", "item-1")]


def test_an_aged_out_item_that_comes_back_is_reopened_not_new() -> None:
    feed = Feed(max_age=timedelta(minutes=30))
    feed.crawl([1, 2])
    assert kinds(feed.crawl([2])) == [("closed", "item-1")]
    back = feed.crawl([1, 2])
    assert kinds(back) == [("reopened", "item-1")]
    assert feed.state.postings["item-1"].episode == 2


def test_without_max_age_or_a_known_last_sighting_nothing_ages_out() -> None:
    forever = Feed(max_age=None)
    forever.crawl([1, 2])
    for _ in range(10):
        assert forever.crawl([2]).events == ()

    unknown = Feed(max_age=timedelta(minutes=30))
    unknown.crawl([1, 2])
    # Storage that does not load `last_seen_at` leaves it unknown: never a reason to close.
    stored = unknown.state.postings["item-1"]
    unknown.state = dataclasses.replace(
        unknown.state,
        postings={**unknown.state.postings, "item-1": dataclasses.replace(stored, last_seen_at=None)},
    )
    for _ in range(4):
        assert unknown.crawl([2]).events == ()


def test_a_sighting_counts_as_seen_and_keeps_the_item_young() -> None:
    feed = Feed(max_age=timedelta(hours=1))
    feed.crawl([1, 2])
    for _ in range(4):
        outcome = feed.crawl([2], sightings=("item-1",))
        assert outcome.events == () and "item-1" in outcome.seen
    assert feed.state.postings["item-1"].last_seen_at == feed.clock + timedelta(seconds=1)


def test_a_304_window_marks_nothing_seen_and_closes_nothing() -> None:
    feed = Feed(max_age=timedelta(minutes=30))
    feed.crawl([1, 2])
    seen_before = feed.state.postings["item-1"].last_seen_at
    for _ in range(3):
        unchanged = feed.crawl([], unchanged=True)
        assert unchanged.verdict is CrawlVerdict.COMPLETE
        assert (unchanged.events, unchanged.seen, unchanged.closures) == ((), (), {})
    assert feed.state.postings["item-1"].last_seen_at == seen_before
    assert feed.status(1) is PostingStatus.OPEN


def test_the_board_closing_an_item_still_closes_it_at_once() -> None:
    feed = Feed(max_age=None)
    feed.crawl([1, 2])
    past = T0 - timedelta(days=1)
    outcome = feed.crawl([posting(1, closed=True), posting(2, deadline=past)])
    assert kinds(outcome) == [("closed", "item-1"), ("closed", "item-2")]


def test_the_same_window_crawl_applied_twice_is_quiet() -> None:
    feed = Feed(max_age=timedelta(minutes=30))
    feed.crawl([1, 2])
    feed.clock += 2 * EVERY
    result = CrawlResult(
        "feed", CrawlVerdict.COMPLETE, feed.clock, feed.clock, (posting(2),), closes_by_absence=False,
        max_age=timedelta(minutes=30),
    )  # fmt: skip
    first = diff(feed.state, result, POLICY)
    assert [event.type for event in first.events] == [EventType.CLOSED]
    feed.state = apply_outcome(feed.state, result, first)
    again = diff(feed.state, result, POLICY)
    assert again.events == () and again.note == "already applied"
