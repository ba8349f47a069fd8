"""Engines tuned for each backend, the statements every writer shares (upsert, chunked `IN` lists), and the
Alembic migrations run from code (no alembic.ini needed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

from sqlalchemy import DateTime, Table, create_engine, event, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError
from sqlalchemy.pool import ConnectionPoolEntry

from storage.checkpoint import Checkpointer, backstop_pages

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

    from storage.models import Base

T = TypeVar("T")

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000
_POSTGRES_DRIVERS = ("postgres", "postgresql", "postgresql+psycopg")

# Ids or keys per `IN (…)` list: well under SQLite's 32,766 and PostgreSQL's 65,535 bound parameters.
CHUNK = 10_000


def _json_default(value: object) -> str:
    """Dates inside a board's `extra` fields are kept as ISO 8601 text rather than refused."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


#: What `dumps` writes, as the standard library's encoder: `json.dumps(…, ensure_ascii=False,
#: separators=(",", ":"), default=_json_default)` without building an encoder per value.
_JSON: Final = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)
#: The C encoder `_JSON.encode` builds on every call, built once. Without the check for circular
#: references (a board's JSON has no cycles; a cycle of our own would raise RecursionError rather
#: than ValueError), which is what lets one serve every call: its table of the containers being
#: encoded could be left holding some by a value that raised.
_C_MAKE_ENCODER: Final[Any] = getattr(json.encoder, "c_make_encoder", None)  # not in typeshed
_JSON_CHUNKS: Final = (
    _C_MAKE_ENCODER(
        None,  # markers: no circular-reference check
        _json_default,
        json.encoder.encode_basestring,
        None,  # indent
        _JSON.key_separator,
        _JSON.item_separator,
        _JSON.sort_keys,
        _JSON.skipkeys,
        _JSON.allow_nan,
    )
    if _C_MAKE_ENCODER is not None
    else None
)


def dumps(value: Any) -> str:
    """Every JSON column's serializer: what `_JSON.encode` writes, character for character.

    Through the C encoder built once (`_JSON_CHUNKS`): building it was most of the cost of
    encoding a posting's small documents (its locations, salary, work permit, board fields), six of
    which are written per posting, 2 µs each; now 1 µs."""
    if _JSON_CHUNKS is None or isinstance(value, str):
        return _JSON.encode(value)
    return "".join(_JSON_CHUNKS(value, 0))


def database_url(url: str | URL) -> URL:
    """The URL with PostgreSQL pinned to psycopg 3, whichever spelling the user wrote."""
    parsed = make_url(url)
    if parsed.drivername in _POSTGRES_DRIVERS:
        return parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL) -> Engine:
    """An engine for `url`: SQLite in WAL mode with a busy timeout, or PostgreSQL through psycopg 3."""
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(parsed)
    engine = create_engine(parsed, json_serializer=dumps, pool_pre_ping=True)
    event.listen(engine, "connect", _tune_postgresql)
    return engine


def _sqlite_engine(url: URL) -> Engine:
    engine = create_engine(url, json_serializer=dumps)
    event.listen(engine, "connect", _tune_sqlite)
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        path = Path(url.database).expanduser()
        path.parent.mkdir(parents=True, exist_ok=True)
        checkpointer = Checkpointer(str(path))
        event.listen(engine, "commit", lambda connection: checkpointer.committed())
        event.listen(engine, "engine_disposed", lambda engine: checkpointer.stop())
    return engine


#: The page size of a SQLite database this creates. A posting's row and each of its versions take
#: 2-4 KB (a description as text and as HTML), so on SQLite's default 4 KiB pages each took a page
#: of its own, a third of it left empty: a first crawl of 50,000 postings made a 420 MB database,
#: all of it written twice (the log, then the checkpoint). On 16 KiB pages it makes 311 MB.
SQLITE_PAGE_SIZE = 16384


def _tune_sqlite(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    """WAL lets readers (the CLI) work while the daemon writes; NORMAL sync is safe under WAL.

    The page size is set first: it takes effect only on a database not yet written, before
    WAL mode writes its header (`SQLITE_PAGE_SIZE`); an existing database keeps its own.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # The log is checkpointed by a thread of its own (`storage.checkpoint`); SQLite's own
        # checkpoint, inside a commit, only backs it up.
        page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
        cursor.execute(f"PRAGMA wal_autocheckpoint={backstop_pages(page_size)}")
        # 16 MiB of page cache, not 2: a crawl writes into every index of a table that grows with
        # the history, and with 2 MiB each insert read its index pages back from the OS.
        cursor.execute("PRAGMA cache_size=-16384")
    finally:
        cursor.close()


def _tune_postgresql(dbapi_connection: Any, connection_record: ConnectionPoolEntry) -> None:
    """Long values (descriptions, snapshots) compressed with LZ4 where the server has it: a first
    crawl's server spent more time in pglz, the default, than in any other part of its inserts.
    Values read back the same; only their compressed form on disk differs."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True  # a SET in a transaction rolled back is undone with it
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(_HAS_LZ4)
            if cursor.fetchone() is not None:
                cursor.execute("SET default_toast_compression = lz4")
    finally:
        dbapi_connection.autocommit = autocommit


_HAS_LZ4 = "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"


def insert_rows(
    connection: Connection,
    model: type[Base],
    rows: Iterable[Mapping[str, Any]],
    *,
    encoded: Collection[str] = (),
) -> None:
    """INSERT `rows` (dicts with the same keys) into `model`'s table, in the connection's transaction.

    On PostgreSQL through one `COPY … FROM STDIN`, each value bound as SQLAlchemy binds it (JSON
    as our text, timestamps as aware UTC): an executemany sends a statement per row, which made
    a first crawl's writes wait on the server once per posting, version and event. Rows are taken
    from `rows` as they are sent: a caller that builds them lazily has the server inserting the
    first while it builds the rest. On SQLite one executemany on the driver's cursor, each value
    bound as SQLAlchemy binds it (so it reads back the same): SQLAlchemy's own executemany spent
    more time building each row's parameters than SQLite spent inserting it. The tables written
    here have no Python-side column defaults, which this path would skip.

    `encoded` names JSON columns whose values are already `dumps` text (None for SQL NULL), as
    the JSON type would have bound them: a caller that writes the same document into two rows
    encodes it once.
    """
    iterator = iter(rows)
    first = next(iterator, None)
    if first is None:
        return
    table = cast(Table, model.__table__)
    dialect = connection.dialect
    if dialect.name not in ("sqlite", "postgresql"):
        connection.execute(insert(table), _decoded([first, *iterator], encoded))
        return
    columns = tuple(first)
    statement, processors = _insert_plan(table, columns, frozenset(encoded), dialect)
    binds = [_remembering(bind) if bind is not None and remember else bind for bind, remember in processors]
    cursor: Any = connection.connection.cursor()
    if dialect.name == "sqlite":
        try:
            cursor.executemany(statement, _bound_rows([first, *iterator], columns, binds))
        finally:
            cursor.close()
        return
    try:
        with cursor.copy(statement) as copy:
            for row in _streamed_rows(chain([first], iterator), columns, binds):
                copy.write_row(row)
    finally:
        cursor.close()


def _streamed_rows(
    rows: Iterable[Mapping[str, Any]], columns: Sequence[str], binds: Sequence[Callable[[Any], Any] | None]
) -> Iterator[list[Any]]:
    """Each row's values bound one row at a time, for a COPY that sends each row as it comes."""
    pairs = list(zip(columns, binds, strict=True))
    for row in rows:
        yield [row[name] if bind is None else bind(row[name]) for name, bind in pairs]


def _decoded(rows: Sequence[Mapping[str, Any]], encoded: Collection[str]) -> list[dict[str, Any]]:
    """The rows with their `encoded` documents parsed back, for an INSERT that encodes them itself."""
    return [
        {
            name: json.loads(value) if name in encoded and value is not None else value
            for name, value in row.items()
        }
        for row in rows
    ]


@lru_cache(maxsize=64)
def _insert_plan(
    table: Table, columns: tuple[str, ...], encoded: frozenset[str], dialect: Any
) -> tuple[str, tuple[tuple[Callable[[Any], Any] | None, bool], ...]]:
    """The statement `insert_rows` runs for these columns (an INSERT on SQLite, a COPY on
    PostgreSQL), and each column's bind processor with whether it is a timestamp's: built once,
    since a re-crawl inserts a few rows at a time, and building them cost more than inserting."""
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in columns)
    if dialect.name == "sqlite":
        statement = f"INSERT INTO {quote(table.name)} ({names}) VALUES ({', '.join('?' * len(columns))})"
    else:
        statement = f"COPY {quote(table.name)} ({names}) FROM STDIN"
    processors = []
    for name in columns:
        column_type = table.c[name].type
        bind = None if name in encoded else column_type._cached_bind_processor(dialect)
        # The affinity, not `python_type`: a TypeDecorator (UTCDateTime) reports `object` as its type.
        processors.append((bind, bind is not None and column_type._type_affinity is DateTime))
    return statement, tuple(processors)


def _remembering(bind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A timestamp's bind processor that remembers its answers for one call of `insert_rows`:
    the rows of one crawl share a handful of timestamps (its finish time, the time of writing)."""
    seen: dict[object, Any] = {}

    def remembered(value: datetime | None) -> Any:
        # Equal timestamps can differ in zone or fold (hence in the text stored): they are kept apart.
        key = None if value is None else (value, value.tzinfo, value.fold)
        try:
            return seen[key]
        except KeyError:
            seen[key] = processed = bind(value)
            return processed

    return remembered


def _bound_rows(
    rows: Sequence[Mapping[str, Any]], columns: Sequence[str], binds: Sequence[Callable[[Any], Any] | None]
) -> Iterator[tuple[Any, ...]]:
    """Each row's values in `columns` order, through the column type's bind processor where it has one.

    Built a column at a time with `map`, which loops in C: a first crawl binds tens of thousands
    of rows of twenty columns, and a generator per row cost as much as SQLite's insert."""
    values = []
    for name, bind in zip(columns, binds, strict=True):
        column = map(itemgetter(name), rows)
        values.append(list(column if bind is None else map(bind, column)))
    return zip(*values, strict=True)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def upsert(connection: Connection, model: type[Base]) -> postgresql.Insert | sqlite.Insert:
    """`INSERT … ON CONFLICT` for the connection's backend; both dialects share the same API."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(model)
    return sqlite.insert(model)


def alembic_config(engine: Engine | None = None) -> AlembicConfig:
    """An Alembic configuration pointing into this package, so an installed wheel can migrate.

    Alembic is imported by the functions that migrate or compare revisions, not with this module:
    reading the configuration checks its database URL here, and `rolewatch check` need not pay
    for Alembic's import."""
    from alembic.config import Config as AlembicConfig

    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    if engine is not None:
        config.attributes["url"] = engine.url
    return config


#: The newest migration's revision: a command sees that a database is current by reading it back,
#: without importing Alembic and every migration script (~0.1 s of each `rolewatch crawl`).
#: `tests/unit/test_head_revision.py` keeps it equal to the scripts' own head.
HEAD_REVISION = "0009"


def _stored_revisions(engine: Engine) -> set[str] | None:
    """The revisions `alembic_version` holds; None when there is no such table (never migrated)."""
    with engine.connect() as connection:
        try:
            rows = connection.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        except DBAPIError:
            return None
    return {str(version) for (version,) in rows}


def upgrade(engine_or_url: Engine | str | URL) -> None:
    """Bring the schema to the newest revision (creating it in an empty database)."""
    engine = engine_or_url if isinstance(engine_or_url, Engine) else make_engine(engine_or_url)
    try:
        if _stored_revisions(engine) == {HEAD_REVISION}:
            return  # what Alembic would conclude, without loading it
        from alembic import command

        config = alembic_config(engine)
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    finally:
        if engine is not engine_or_url:
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def is_up_to_date(engine: Engine) -> bool:
    """Whether the schema is at the newest revision, so commands can refuse to run on an old one."""
    return _stored_revisions(engine) == {HEAD_REVISION}


_DATABASE_FORMS = "use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB"


def check_database_url(value: str) -> str:
    """A URL SQLAlchemy parses, for SQLite or PostgreSQL, with a port that exists and a driver installed.

    Refused when the configuration is read, so `rolewatch check` reports it; otherwise every later
    command fails on it with a traceback. No message repeats the URL: it may hold a password.
    """
    if not value.startswith(("sqlite:", "sqlite+", "postgresql")):
        raise ValueError(_DATABASE_FORMS)
    try:
        url = database_url(value)
    except (ArgumentError, ValueError):  # ValueError: a port that is not a number
        raise ValueError(f"not a database URL SQLAlchemy can read; {_DATABASE_FORMS}") from None
    if url.port is not None and not 0 < url.port < 65536:
        raise ValueError(f"port {url.port} is out of range (1-65535)")
    try:
        dialect = url.get_dialect()
        dialect.import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise ValueError(
            f"the database driver {url.drivername!r} is not installed or not known; {_DATABASE_FORMS}"
        ) from None
    if dialect.is_async:
        raise ValueError(f"{url.drivername!r} is an asyncio driver; {_DATABASE_FORMS}")
    return value
