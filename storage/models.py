"""The database schema as typed SQLAlchemy models; migrations in `storage/migrations` must match it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# JSONB on PostgreSQL (compact, comparable); SQL NULL, not JSON `null`, for a missing value.
JSONDocument = JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is timezone-aware UTC both ways, even on SQLite (which stores no offset).

    A naive value is taken as UTC rather than refused: a crawl must not be lost to one
    board's sloppy date, and UTC is what every stage of rolewatch produces.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Every table; the naming convention names each constraint so batch migrations can alter it."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), str: String()}


class SourceRow(Base):
    """One configured board; kept after it leaves the configuration so its history stays readable."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    type: Mapped[str]
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    suspect_streak: Mapped[int] = mapped_column(default=0)
    validators: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    last_crawl_at: Mapped[datetime | None]
    #: When the last crawl that saw every posting then open finished. An open posting was last
    #: seen at the later of this and its own `last_seen_at` (see `storage.state.last_sighting`).
    all_seen_at: Mapped[datetime | None]
    next_due_at: Mapped[datetime | None]
    #: Consecutive failed or suspect crawls, when that run began, and whether operators were told.
    trouble_streak: Mapped[int] = mapped_column(default=0)
    trouble_since: Mapped[datetime | None]
    trouble_reported: Mapped[bool] = mapped_column(default=False)


class CrawlRow(Base):
    """One crawl of one source with its verdict, cost and event counts."""

    __tablename__ = "crawls"
    __table_args__ = (Index(None, "source_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    identity: Mapped[str] = mapped_column(unique=True)
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    verdict: Mapped[str]
    reason: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text)
    unchanged: Mapped[bool]
    requests: Mapped[int]
    responses: Mapped[int]
    bytes: Mapped[int] = mapped_column(BigInteger)
    pages: Mapped[int]
    items: Mapped[int]
    retries: Mapped[int]
    not_modified: Mapped[int]
    duration_s: Mapped[float] = mapped_column(Float)
    errors: Mapped[list[str]] = mapped_column(JSONDocument)
    new_events: Mapped[int]
    changed_events: Mapped[int]
    closed_events: Mapped[int]
    reopened_events: Mapped[int]


class PostingRow(Base):
    """The current state of one posting; its past lives in versions and events."""

    __tablename__ = "postings"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id"),
        # Covers what every crawl reads of a source's open postings (storage.state): without it,
        # `misses` and `raw_digest`, stored after the descriptions, cost a walk through each
        # wide row's overflow pages. It also serves every query by source and status.
        Index(
            "ix_postings_listed_state",
            "source_id",
            "status",
            "external_id",
            "episode",
            "misses",
            "raw_digest",
            "deadline",
        ),
        # Keyset pages of the web's posting list (newest first, or by title) and the time-to-close chart.
        Index(None, "status", "id"),
        Index(None, "status", "title", "id"),
        Index(None, "title", "id"),
        Index(None, "closed_at"),
        Index(None, "company", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    external_id: Mapped[str]
    status: Mapped[str]
    episode: Mapped[int]
    fingerprint: Mapped[str]
    raw_digest: Mapped[str | None] = mapped_column(String(40))
    role_key: Mapped[str] = mapped_column(index=True)
    title: Mapped[str]
    company: Mapped[str | None]
    department: Mapped[str | None]
    url: Mapped[str | None]
    apply_url: Mapped[str | None]
    locations: Mapped[list[dict[str, Any]]] = mapped_column(JSONDocument)
    workplace: Mapped[str | None]
    employment_type: Mapped[str | None]
    salary: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    posted_at: Mapped[datetime | None]
    deadline: Mapped[datetime | None]
    work_rights: Mapped[dict[str, Any] | None] = mapped_column(JSONDocument)
    description_text: Mapped[str] = mapped_column(Text)
    description_html: Mapped[str] = mapped_column(Text)
    extra: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    significant: Mapped[dict[str, str]] = mapped_column(JSONDocument)
    misses: Mapped[int]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    repost_of_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(ForeignKey("postings.id"))
    updated_at: Mapped[datetime]


class PostingVersionRow(Base):
    """The whole normalised posting each time its fingerprint changed (append-only)."""

    __tablename__ = "posting_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    crawl_id: Mapped[int] = mapped_column(ForeignKey("crawls.id"), index=True)
    recorded_at: Mapped[datetime]
    fingerprint: Mapped[str]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSONDocument)


class EventRow(Base):
    """A new, changed, closed or reopened posting, as announced at the time (title and link included)."""

    __tablename__ = "events"
    __table_args__ = (
        Index(None, "source_id", "at"),
        # Keyset pages of the web's timeline in (at, id) order, whole or by type or company.
        Index(None, "at", "id"),
        Index(None, "type", "at", "id"),
        Index(None, "company", "at", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    type: Mapped[str]
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    posting_id: Mapped[int] = mapped_column(ForeignKey("postings.id"), index=True)
    crawl_id: Mapped[int] = mapped_column(ForeignKey("crawls.id"), index=True)
    at: Mapped[datetime]  # indexed first in (at, id), which serves every query by time
    episode: Mapped[int]
    title: Mapped[str]
    company: Mapped[str | None]
    url: Mapped[str | None]
    changes: Mapped[dict[str, list[str]]] = mapped_column(JSONDocument)
    repost_of: Mapped[str | None]
    duplicate_of: Mapped[str | None]


class SubscriptionRow(Base):
    """One configured subscription, its filter kept for the record with every channel redacted."""

    __tablename__ = "subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    config: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    active: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    """One message owed to one channel: an alert (event × subscription × channel) or an operator notice.

    `dedupe_key` says what the message is about (a role's open episode, one change, a source's
    health turn); the unique key over (recipient, channel, dedupe_key) is what keeps a role from
    alerting one channel twice, whoever writes the row and however often. `status` is `pending`
    (due at `due_at`, possibly claimed until `claimed_until`), `sent`, `dead` (given up), `cancelled`,
    or `feed` (the alert of a subscription with no channel, kept for its web feed, never sent).
    """

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("recipient", "channel_key", "dedupe_key"),
        Index(None, "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient: Mapped[str]
    channel_key: Mapped[str] = mapped_column(String(32))
    channel: Mapped[str] = mapped_column(Text)
    dedupe_key: Mapped[str]
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"), index=True)
    role_key: Mapped[str | None]
    digest: Mapped[bool]
    payload: Mapped[dict[str, Any]] = mapped_column(JSONDocument)
    status: Mapped[str]
    created_at: Mapped[datetime]
    due_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None]
    attempts: Mapped[int]
    first_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class DeliveryAttemptRow(Base):
    """Every attempt to send one outbox row, kept so a failure can be explained afterwards."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    at: Mapped[datetime]
    ok: Mapped[bool]
    detail: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float] = mapped_column(Float)
