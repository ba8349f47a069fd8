"""The configuration model: every setting, its default and its validation in one place.

What only a stage can judge (a source type's own keys, a channel URL, a query, a digest rhythm, the
database driver, a cron expression) is checked through the `Resolvers` the application passes in
(`rolewatch.resolve`); this module imports none of the stages.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from rolewatch import __version__

DEFAULT_CONFIG_PATH = Path("rolewatch.yaml")
ENV_PREFIX = "ROLEWATCH_"
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(b|kb|kib|mb|mib|gb|gib)?\s*$", re.IGNORECASE)
_SIZE_UNITS = {"b": 1, "kb": 1000, "kib": 1024, "mb": 10**6, "mib": 2**20, "gb": 10**9, "gib": 2**30}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")
_ENV_WORDS: dict[str, Any] = {"true": True, "false": False, "null": None, "~": None}
_ENV_INTEGER = re.compile(r"^[-+]?\d+$")
_ENV_FLOAT = re.compile(r"^[-+]?(\d+\.\d*|\.\d+|\d+)([eE][-+]?\d+)?$")


class ConfigError(Exception):
    """Invalid configuration: every problem, each named by the path of its key."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def parse_duration(value: Any) -> timedelta:
    """`90s`, `15m`, `2h`, `1d` (or a number of seconds) as a timedelta."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    match = _DURATION.match(str(value))
    if not match:
        raise ValueError(f"not a duration: {value!r} (use a number and a unit: 90s, 15m, 2h, 1d)")
    amount, unit = match.groups()
    return timedelta(seconds=float(amount) * _UNITS[unit])


def format_duration(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        if seconds >= _UNITS[unit] and seconds % _UNITS[unit] == 0:
            return f"{int(seconds // _UNITS[unit])}{unit}"
    return f"{seconds:g}s"


def _parse_fraction(value: Any) -> float:
    """`10%` or `0.1` as 0.1."""
    text = str(value).strip()
    fraction = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    if not 0 <= fraction <= 1:
        raise ValueError(f"must be between 0% and 100%, got {value!r}")
    return fraction


def _parse_size(value: Any) -> int:
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"not a size: {value!r} (use e.g. 10MiB)")
    amount, unit = match.groups()
    return int(float(amount) * _SIZE_UNITS[(unit or "b").lower()])


@dataclass(frozen=True)
class Resolvers:
    """The checks only a stage can make, handed to validation by the application.

    Each raises ValueError with the message the problem shows; without them (`parse_config` with
    `resolvers=None`) the configuration is read for its shape alone and every source keeps the
    common keys only.
    """

    source_options: Callable[[str], type[SourceOptions]]
    """A source type's own options model; ValueError for a type nobody registered."""
    channel: Callable[[str], object]
    """An apprise URL is usable now, not at the first send; the message shows it redacted."""
    query: Callable[[str], object]
    """A subscription query compiles."""
    digest: Callable[[str], object]
    """A digest rhythm parses."""
    database: Callable[[str], object]
    """A database URL parses, for a supported backend, with its driver installed."""
    cron: Callable[[str], object]
    """A five-field cron expression is one the scheduler can run."""


RESOLVERS = "resolvers"
"""The key of the `Resolvers` in pydantic's validation context."""


def _resolvers(info: ValidationInfo) -> Resolvers | None:
    context = info.context
    found = context.get(RESOLVERS) if isinstance(context, Mapping) else None
    return found if isinstance(found, Resolvers) else None


def _check_cron(expression: str, info: ValidationInfo) -> str:
    resolvers = _resolvers(info)
    if resolvers is None:
        return expression
    try:
        resolvers.cron(expression)
    except ValueError as error:
        raise ValueError(f"not a cron expression: {expression!r} ({error})") from None
    return expression


@dataclass(frozen=True)
class Schedule:
    """When a source is crawled: every `every`, or on a five-field `cron` expression."""

    every: timedelta | None = None
    cron: str | None = None

    def __str__(self) -> str:
        return self.cron if self.cron else format_duration(self.every or timedelta())


def _parse_schedule(value: Any, info: ValidationInfo) -> Schedule:
    if isinstance(value, Schedule):
        return value
    if isinstance(value, Mapping) and "cron" in value:
        return Schedule(cron=_check_cron(str(value["cron"]), info))
    if isinstance(value, str) and len(value.split()) == 5:
        return Schedule(cron=_check_cron(value, info))
    every = parse_duration(value)
    if every < timedelta(seconds=1):
        raise ValueError("interval must be at least 1s")
    return Schedule(every=every)


def _check_channels(urls: list[str], info: ValidationInfo) -> list[str]:
    """Every apprise URL must be usable now, not at the first send; messages show them redacted."""
    resolvers = _resolvers(info)
    if resolvers is None:
        return urls
    problems = []
    for index, url in enumerate(urls):
        try:
            resolvers.channel(url)
        except ValueError as error:
            problems.append(f"[{index}] {error}")
    if problems:
        raise ValueError("; ".join(problems))
    return urls


def _check_timezone(value: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (use an IANA name like Australia/Sydney)") from None
    return value


Duration = Annotated[timedelta, BeforeValidator(parse_duration), PlainSerializer(format_duration)]
Channels = Annotated[list[str], AfterValidator(_check_channels)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
Fraction = Annotated[float, BeforeValidator(_parse_fraction)]
ByteSize = Annotated[int, BeforeValidator(_parse_size)]
ScheduleSpec = Annotated[Schedule, BeforeValidator(_parse_schedule), PlainSerializer(str)]


class _Strict(BaseModel):
    # Each model's validator is built when it first validates, not on import: a crawl worker only
    # unpickles these models, and reading a file validates most of them inside `Config` alone.
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class Politeness(_Strict):
    """How hard rolewatch may press one host; shared by every source on that host."""

    concurrency_per_host: int = Field(2, ge=1, le=32, description="requests in flight per host")
    delay: Duration = Field(timedelta(seconds=1), description="minimum pause between requests to one host")
    autothrottle: bool = Field(True, description="slow down when the host slows down")
    retries: int = Field(3, ge=0, le=10, description="retries of a failed request (5xx, 429, time-out)")
    max_retry_after: Duration = Field(
        timedelta(minutes=2), description="longest Retry-After honoured before giving up"
    )
    request_timeout: Duration = Field(timedelta(seconds=30), description="one request, end to end")
    max_response_size: ByteSize = Field(10 * 2**20, description="responses larger than this are refused")
    conditional_requests: bool = Field(True, description="send the server's ETag/Last-Modified back")


class Defaults(_Strict):
    """Settings every source inherits unless it sets its own."""

    interval: ScheduleSpec = Field(Schedule(every=timedelta(minutes=30)), description="duration or cron")
    jitter: Fraction = Field(0.1, description="spread start times by this share of the interval")
    close_after_misses: int = Field(2, ge=1, description="complete crawls missing a posting before CLOSED")
    max_drop: Fraction = Field(0.5, description="a complete crawl losing more than this is suspect")
    timeout: Duration = Field(timedelta(minutes=5), description="one source's crawl, end to end")
    user_agent: str = Field(
        f"rolewatch/{__version__} (+https://github.com/rolewatch/rolewatch)",
        description="sent with every request",
    )
    obey_robots: bool = Field(True, description="obey robots.txt")
    politeness: Politeness = Field(default_factory=Politeness)


def http_url(value: str) -> str:
    """An absolute http(s) URL with a host: the only kind of address an operator may give a source.

    `file:`, `ftp:`, `data:` and the like would let a board's configuration (or a typo) read local
    files or other services; the crawler requests only http and https.
    """
    text = value.strip()
    parts = urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        raise ValueError(f"not an http(s) URL (bad port): {value!r}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in text):
        raise ValueError(f"not an http(s) URL: {value!r} (give the whole address, e.g. https://host/path)")
    return text


def web_url(value: str) -> str:
    """An absolute http(s) URL, or a `/path` on `base_url` (a type checks that `base_url` is given)."""
    if value.startswith("/") and not value.startswith("//"):
        return value
    try:
        return http_url(value)
    except ValueError:
        raise ValueError(f"not an http(s) URL or a /path: {value!r}") from None


_HOST_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


def host_pattern(value: str) -> str:
    """`cdn.example.com`, `*.cloudfront.net` (any host below it) or an IP address, lower-cased."""
    text = value.strip().lower().rstrip(".")
    if "://" in text or "/" in text:
        raise ValueError(f"a host name, not a URL: {value!r} (e.g. cdn.example.com or *.example.com)")
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        pass
    labels = (text[2:] if text.startswith("*.") else text).split(".")
    if not text or not all(_HOST_LABEL.match(label) for label in labels):
        raise ValueError(f"not a host name: {value!r} (e.g. cdn.example.com or *.example.com; no port)")
    return text


HttpUrl = Annotated[str, AfterValidator(http_url)]
WebUrl = Annotated[str, AfterValidator(web_url)]
HostPattern = Annotated[str, AfterValidator(host_pattern)]


class SourceOptions(_Strict):
    """Base of each source type's own keys; a type subclasses it in its one file."""

    base_url: HttpUrl | None = Field(None, description="override the service's host (mirror, EU host, test)")
    allowed_hosts: list[HostPattern] = Field(
        default_factory=list,
        description="other hosts the board may send the crawler to (a CDN it redirects to); "
        "`*.example.com` allows any host below it",
    )

    def configured_urls(self) -> list[str]:
        """Every absolute http(s) URL among this source's options: the hosts it names are its own.

        Requests the board causes (next links, redirects, followed links) may go to these hosts,
        the type's own API host and `allowed_hosts`, and nowhere else.
        """
        found: list[str] = []
        for name in type(self).model_fields:
            value = getattr(self, name)
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, str) and item.lower().startswith(("http://", "https://")):
                    found.append(item)
        return found


class SourceConfig(BaseModel):
    """One board to watch: the keys every type shares, plus the type's own in `options`."""

    model_config = ConfigDict(extra="allow", frozen=True, defer_build=True)  # as `_Strict`

    name: str
    type: str
    enabled: bool = True
    interval: ScheduleSpec | None = None
    jitter: Fraction | None = None
    close_after_misses: int | None = Field(None, ge=1)
    max_drop: Fraction | None = None
    timeout: Duration | None = None
    options: SourceOptions = Field(default_factory=SourceOptions, exclude=True)

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use letters, digits, '-', '_' or '.' (at most 80), starting with a letter or digit"
            )
        return value

    @field_validator("type")
    @classmethod
    def _type_is_known(cls, value: str, info: ValidationInfo) -> str:
        resolvers = _resolvers(info)
        if resolvers is not None:
            resolvers.source_options(value)
        return value


class MinSalary(_Strict):
    amount: float = Field(gt=0)
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    per: str = Field("year", pattern=r"^(hour|day|week|month|year)$")


class SalaryUnit(_Strict):
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    per: str = Field(pattern=r"^(hour|day|week|month|year)$")


class SalaryConversion(_Strict):
    """An explicit rule for comparing pay across currencies or periods: `to = from × factor`."""

    from_: SalaryUnit = Field(alias="from")
    to: SalaryUnit
    factor: float = Field(gt=0)


class Subscription(_Strict):
    """Who wants to hear about which roles, where and how often."""

    name: str = Field(description="your name for the subscription; alerts and the CLI use it")
    query: str | None = Field(
        None, description="Lucene-style query over title, company, location, description"
    )
    companies: list[str] = Field(default_factory=list, description="only these companies (any case)")
    locations: list[str] = Field(
        default_factory=list, description="city, region, ISO country code or name, or Remote"
    )
    employment_types: list[str] = Field(default_factory=list, description="intern, graduate, full_time, …")
    workplace: list[str] = Field(default_factory=list, description="onsite, hybrid, remote")
    min_salary: MinSalary | None = Field(None, description="compared in the same currency and period only")
    sponsorship: list[str] = Field(
        default_factory=list, description="offered, not_offered, citizens_only (unknown never matches)"
    )
    sources: list[str] = Field(default_factory=list, description="only postings from these sources")
    events: list[str] = Field(
        default_factory=lambda: ["new", "reopened"], description="event types to alert on"
    )
    notify: Channels = Field(default_factory=list, description="apprise URLs, one per channel")
    digest: str = Field("immediate", description="immediate, hourly, 'daily HH:MM' or 'weekly DAY HH:MM'")
    timezone: TimeZoneName = Field("UTC", description="IANA time zone for dates in messages and digest times")
    reposts: bool = Field(
        False, description="alert again when a role is reposted or listed on a second board"
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_slug(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(
                "use letters, digits, '-', '_' or '.' (at most 80), starting with a letter or digit"
            )
        return value

    @field_validator("events")
    @classmethod
    def _known_events(cls, value: list[str]) -> list[str]:
        bad = [v for v in value if v not in ("new", "changed", "closed", "reopened")]
        if bad:
            raise ValueError(f"unknown event types {bad}; use new, changed, closed, reopened")
        return value

    @field_validator("employment_types", "workplace", "sponsorship")
    @classmethod
    def _known_values(cls, value: list[str], info: ValidationInfo) -> list[str]:
        from rolewatch.domain import EMPLOYMENT_TYPES, SPONSORSHIP, WORKPLACES

        allowed = {"employment_types": EMPLOYMENT_TYPES, "workplace": WORKPLACES, "sponsorship": SPONSORSHIP}
        known = allowed[str(info.field_name)]
        bad = [v for v in value if v not in known]
        if bad:
            raise ValueError(f"unknown values {bad}; use {', '.join(known)}")
        return value

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str | None, info: ValidationInfo) -> str | None:
        resolvers = _resolvers(info)
        if value is not None and resolvers is not None:
            try:
                resolvers.query(value)
            except ValueError as error:
                raise ValueError(str(error)) from None
        return value

    @field_validator("digest")
    @classmethod
    def _digest_parses(cls, value: str, info: ValidationInfo) -> str:
        resolvers = _resolvers(info)
        if resolvers is not None:
            resolvers.digest(value)
        return value


class Operators(_Strict):
    """Who hears about the health of the sources (not about roles)."""

    notify: Channels = Field(default_factory=list, description="apprise URLs for source-health messages")
    after: int = Field(
        3, ge=1, description="consecutive failed or suspect crawls before a source is reported"
    )
    timezone: TimeZoneName = Field("UTC", description="IANA time zone for dates in health messages")


class Delivery(_Strict):
    """How the outbox sender retries: exponential back-off, then the row is parked as dead."""

    first_retry: Duration = Field(timedelta(minutes=1), description="wait before the first retry")
    max_retry_delay: Duration = Field(timedelta(hours=1), description="the back-off never waits longer")
    retry_for: Duration = Field(timedelta(hours=24), description="keep retrying this long, then park as dead")
    lease: Duration = Field(
        timedelta(minutes=5), description="a claimed row is free again after this (a sender that died)"
    )
    send_timeout: Duration = Field(timedelta(seconds=30), description="one send to one channel")
    batch: int = Field(200, ge=1, description="rows claimed per round")
    templates: str | None = Field(None, description="directory of Jinja2 templates overriding the built-ins")


class Daemon(_Strict):
    """`rolewatch run`: the scheduler's own settings."""

    grace: Duration = Field(
        timedelta(seconds=30), description="SIGTERM: running work gets this long to finish"
    )
    deliver_every: Duration = Field(timedelta(seconds=15), description="the outbox sender's polling period")
    misfire_grace: Duration = Field(
        timedelta(minutes=5), description="a run missed by less than this still happens (coalesced)"
    )
    crawl_log_retention: Duration = Field(
        timedelta(days=90), description="crawl log rows older than this are deleted by daily maintenance"
    )
    http: str | None = Field(
        None,
        pattern=r"^\[?[A-Za-z0-9.:-]*\]?:\d{1,5}$",
        description="serve /healthz and /metrics on HOST:PORT (as `run --http`, which wins)",
    )
    maintenance_at: str = Field(
        "03:30", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="daily maintenance time, HH:MM UTC"
    )

    @field_validator("http")
    @classmethod
    def _port_exists(cls, value: str | None) -> str | None:
        """Refused by `check`, not first by `run` (the pattern has checked it ends in digits)."""
        if value is not None and not 0 < int(value.rpartition(":")[2]) < 65536:
            raise ValueError("the port must be from 1 to 65535")
        return value


_SECRET_HASH = r"^scrypt\$\d+\$\d+\$\d+\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$"


class WebAuth(_Strict):
    """Optional access control for an exposed dashboard; secrets stored hashed (`rolewatch web --hash`)."""

    token: str | None = Field(
        None, pattern=_SECRET_HASH, description="hash of the bearer token (Authorization: Bearer …)"
    )
    username: str | None = Field(None, description="basic-auth user name (with `password`)")
    password: str | None = Field(None, pattern=_SECRET_HASH, description="hash of the basic-auth password")
    feed_key: str | None = Field(
        None, min_length=32, description="secret that signs each feed's own URL token (32+ characters)"
    )


class Web(_Strict):
    """The read-only dashboard, feeds and API (`rolewatch web`, and `rolewatch run --http`)."""

    http: str = Field(
        "127.0.0.1:8787",
        pattern=r"^\[?[A-Za-z0-9.:-]*\]?:\d{1,5}$",
        description="`rolewatch web` serves on HOST:PORT (as `web --http`, which wins)",
    )
    page_size: int = Field(50, ge=1, le=500, description="rows per page in pages, feeds and the API")
    auth: WebAuth = Field(default_factory=WebAuth)


class Config(_Strict):
    """The whole configuration file."""

    database: str = Field(
        "sqlite:///rolewatch.db", description="SQLAlchemy URL: sqlite:/// or postgresql+psycopg://"
    )
    engine: Literal["local", "procrastinate"] = Field(
        "local",
        description="local: one daemon does everything; procrastinate: `run` schedules, `worker`s crawl "
        "(PostgreSQL only)",
    )
    defaults: Defaults = Field(default_factory=Defaults)
    sources: list[SourceConfig] = Field(default_factory=list)
    subscriptions: list[Subscription] = Field(default_factory=list)
    operators: Operators = Field(default_factory=Operators)
    delivery: Delivery = Field(default_factory=Delivery)
    daemon: Daemon = Field(default_factory=Daemon)
    web: Web = Field(default_factory=Web)
    salary_conversions: list[SalaryConversion] = Field(
        default_factory=list, description="rules letting min_salary compare other currencies or periods"
    )

    @field_validator("database")
    @classmethod
    def _supported_database(cls, value: str, info: ValidationInfo) -> str:
        resolvers = _resolvers(info)
        if resolvers is not None:
            resolvers.database(value)
        return value

    @field_validator("engine")
    @classmethod
    def _engine_needs_postgresql(cls, value: str, info: ValidationInfo) -> str:
        """procrastinate keeps its jobs, locks and workers in PostgreSQL; SQLite cannot share them."""
        database = str(info.data.get("database", ""))
        if value == "procrastinate" and not database.startswith("postgres"):
            raise ValueError("procrastinate needs a PostgreSQL database (postgresql+psycopg://…)")
        return value

    def subscription(self, name: str) -> Subscription:
        for subscription in self.subscriptions:
            if subscription.name == name:
                return subscription
        known = ", ".join(s.name for s in self.subscriptions) or "none configured"
        raise ConfigError([f"unknown subscription {name!r} (known: {known})"])

    def source(self, name: str) -> ResolvedSource:
        for source in self.sources:
            if source.name == name:
                return resolve(source, self.defaults)
        raise KeyError(name)

    def resolved_sources(self, names: Iterable[str] = ()) -> list[ResolvedSource]:
        """The named sources (all enabled ones when none are named) with defaults applied."""
        wanted = list(names)
        unknown = [n for n in wanted if n not in {s.name for s in self.sources}]
        if unknown:
            raise ConfigError([f"unknown source {n!r}" for n in unknown])
        chosen = [s for s in self.sources if (s.name in wanted if wanted else s.enabled)]
        return [resolve(s, self.defaults) for s in chosen]


@dataclass(frozen=True)
class ResolvedSource:
    """A source with every default filled in: what the crawler and the diff actually use."""

    name: str
    type: str
    options: SourceOptions
    interval: Schedule
    jitter: float
    close_after_misses: int
    max_drop: float
    timeout: timedelta
    user_agent: str
    obey_robots: bool
    politeness: Politeness


def resolve(source: SourceConfig, defaults: Defaults) -> ResolvedSource:
    def pick(value: Any, default: Any) -> Any:
        return default if value is None else value

    return ResolvedSource(
        name=source.name,
        type=source.type,
        options=source.options,
        interval=pick(source.interval, defaults.interval),
        jitter=pick(source.jitter, defaults.jitter),
        close_after_misses=pick(source.close_after_misses, defaults.close_after_misses),
        max_drop=pick(source.max_drop, defaults.max_drop),
        timeout=pick(source.timeout, defaults.timeout),
        user_agent=defaults.user_agent,
        obey_robots=defaults.obey_robots,
        politeness=defaults.politeness,
    )


def format_loc(loc: Iterable[str | int]) -> str:
    """`("sources", 3, "board")` -> `sources[3].board`."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or "(top level)"


Problem = tuple[tuple[str | int, ...], str]
"""One problem: the path of its key and the message after it."""


def _problems(
    error: ValidationError,
    prefix: tuple[str | int, ...] = (),
    data: Mapping[str, Any] | None = None,
    model: type[BaseModel] | None = None,
    also: Iterable[str] = (),
) -> list[Problem]:
    problems: list[Problem] = []
    for item in error.errors():
        message = str(item["msg"])
        message = message.removeprefix("Value error, ")
        message = message[:1].lower() + message[1:]
        loc = prefix + tuple(part for part in item["loc"] if not str(part).startswith("function-"))
        if item["type"] == "extra_forbidden" and model is not None:
            message += _did_you_mean(model, item["loc"], also)
        problems.append((loc, f"{format_loc(loc)}{_named(loc, data)}: {message}"))
    return problems


def _did_you_mean(model: type[BaseModel], loc: tuple[str | int, ...], also: Iterable[str] = ()) -> str:
    """`; did you mean 'interval'?` for a misspelt key, from the keys the model at its place allows."""
    found: type[BaseModel] | None = model
    for part in loc[:-1]:
        if isinstance(part, int) or found is None:
            continue
        field = found.model_fields.get(part)
        found = _model_in(field.annotation) if field is not None else None
    if found is None or not loc or not isinstance(loc[-1], str):
        return ""
    names = [field.alias or name for name, field in found.model_fields.items() if name != "options"]
    names += sorted(also)
    close = difflib.get_close_matches(loc[-1], names, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model class inside `X`, `list[X]`, `X | None` and the like; None when there is none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _in_file_order(problems: list[Problem], data: Mapping[str, Any]) -> list[Problem]:
    """Problems sorted as their keys appear in the file (a key the file lacks after its siblings)."""

    def position(loc: tuple[str | int, ...]) -> tuple[int, ...]:
        node: Any = data
        place: list[int] = []
        for part in loc:
            if isinstance(part, int):
                place.append(part)
                node = node[part] if isinstance(node, list) and part < len(node) else None
            elif isinstance(node, Mapping):
                keys = list(node)
                place.append(keys.index(part) if part in keys else len(keys))
                node = node.get(part)
            else:
                place.append(0)
                node = None
        return tuple(place)

    unique = list(dict.fromkeys(problems))
    return sorted(unique, key=lambda problem: position(problem[0]))


def _duplicate_names(data: Mapping[str, Any]) -> list[Problem]:
    """Each source or subscription that repeats an earlier one's name, reported with the others."""
    problems: list[Problem] = []
    for kind in ("sources", "subscriptions"):
        entries = data.get(kind)
        first: dict[str, int] = {}
        for index, entry in enumerate(entries if isinstance(entries, list) else []):
            name = entry.get("name") if isinstance(entry, Mapping) else None
            if not isinstance(name, str):
                continue
            if name in first:
                loc = (kind, index, "name")
                problems.append(
                    (loc, f"{format_loc(loc)}: duplicate name {name!r} (also {kind}[{first[name]}])")
                )
            else:
                first[name] = index
    return problems


def _named(loc: tuple[str | int, ...], data: Mapping[str, Any] | None) -> str:
    """` (ds-interns)` after `subscriptions[0]…`, so a problem names the entry as well as its place."""
    if data is None or len(loc) < 2 or loc[0] != "subscriptions" or not isinstance(loc[1], int):
        return ""
    entries = data.get(str(loc[0]))
    if not isinstance(entries, list) or loc[1] >= len(entries) or not isinstance(entries[loc[1]], Mapping):
        return ""
    name = entries[loc[1]].get("name")
    return f" ({name})" if isinstance(name, str) and name else ""


def _validate_options(
    raw_sources: Any, problems: list[Problem], resolvers: Resolvers | None
) -> list[dict[str, Any]]:
    """Validate each source's type-specific keys against its type's own model.

    Without resolvers the keys are set aside unread: only the source type knows them.
    """
    validated = []
    common = set(SourceConfig.model_fields)
    for index, raw in enumerate(raw_sources if isinstance(raw_sources, list) else []):
        if not isinstance(raw, Mapping):
            validated.append(raw)
            continue
        entry = dict(raw)
        options = _options_model(str(entry.get("type")), resolvers)
        own = {k: v for k, v in entry.items() if k not in common}
        if options is not None:
            try:
                entry["options"] = options.model_validate(own)
            except ValidationError as error:
                problems.extend(
                    _problems(error, ("sources", index), model=options, also=common - {"options"})
                )
        for key in own:
            entry.pop(key)
        validated.append(entry)
    return validated


def _options_model(source_type: str, resolvers: Resolvers | None) -> type[SourceOptions] | None:
    """The type's own options model; None when unknown (`type` itself reports that) or unresolved."""
    if resolvers is None:
        return None
    try:
        return resolvers.source_options(source_type)
    except ValueError:
        return None


@dataclass(frozen=True)
class EnvironmentOverride:
    """One `ROLEWATCH_<KEY>` variable: the key path it sets and its value as the configuration reads it."""

    variable: str
    path: tuple[str, ...]
    value: Any

    @property
    def location(self) -> str:
        """The key's path as problems spell it: `sources[0].board`."""
        return format_loc(int(part) if part.isdigit() else part for part in self.path)


def environment_overrides(environ: Mapping[str, str]) -> list[EnvironmentOverride]:
    """The `ROLEWATCH_<KEY>` variables; `__` descends (`ROLEWATCH_DEFAULTS__INTERVAL=15m`).

    `ROLEWATCH_DATABASE_URL` is the conventional alias for `database`. Raises ConfigError naming
    every variable whose value does not parse, never repeating the value: it may be a secret.
    """
    overrides, problems = [], []
    for name, value in sorted(environ.items()):
        if not name.startswith(ENV_PREFIX) or name == "ROLEWATCH_CONFIG":
            continue
        key = name[len(ENV_PREFIX) :].lower()
        path = ("database",) if key == "database_url" else tuple(key.split("__"))
        try:
            overrides.append(EnvironmentOverride(name, path, environment_value(value)))
        except ValueError as error:
            problems.append(f"{name}: {error}")
    if problems:
        raise ConfigError(problems)
    return overrides


def environment_value(text: str) -> Any:
    """A variable's value: the text as given, unless it is plainly a number, a boolean, null or a collection.

    Only `[…]` and `{…}` are read as YAML (flow style); `true`/`false`, `null`/`~` and decimal
    numbers become what they say. Anything else is kept verbatim, so a ` #` or `: ` inside a
    password or a user agent is not cut as a YAML comment or read as a mapping, and `13:30` is not
    YAML 1.1's sexagesimal 810.
    """
    stripped = text.strip()
    if stripped.startswith(("[", "{")):
        from rolewatch.safe_yaml import YAMLError, load_yaml

        try:
            return load_yaml(stripped)
        except (YAMLError, RecursionError) as error:
            mark = getattr(error, "problem_mark", None)
            where = f" (column {mark.column + 1})" if mark else ""
            raise ValueError(
                f"a value starting with '[' or '{{' is read as a YAML list or mapping, and this one is "
                f"not valid{where}"
            ) from None
    if stripped.lower() in _ENV_WORDS:
        return _ENV_WORDS[stripped.lower()]
    if _ENV_INTEGER.match(stripped):
        return int(stripped)
    if _ENV_FLOAT.match(stripped):
        return float(stripped)
    return text


def apply_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """Overlay the `ROLEWATCH_<KEY>` variables of `environ` on the file's data."""
    return _apply(data, environment_overrides(environ))


def _apply(data: dict[str, Any], overrides: Iterable[EnvironmentOverride]) -> dict[str, Any]:
    merged = dict(data)
    for override in overrides:
        _set_path(merged, list(override.path), override.value)
    return merged


def _attribute(problems: list[str], overrides: Iterable[EnvironmentOverride]) -> list[str]:
    """Each problem with a key set from the environment says so: the file may not show that value."""
    attributed = []
    for problem in problems:
        for override in overrides:
            location = override.location
            if problem.startswith(location) and problem[len(location) :][:1] in (":", ".", "[", " "):
                problem = f"{problem} (set by {override.variable})"
                break
        attributed.append(problem)
    return attributed


def _set_path(data: Any, path: list[str], value: Any) -> None:
    node = data
    for depth, part in enumerate(path):
        last = depth == len(path) - 1
        key: str | int = int(part) if part.isdigit() and isinstance(node, list) else part
        if last:
            in_list = isinstance(node, list) and isinstance(key, int) and key < len(node)
            if in_list or isinstance(node, dict):
                node[key] = value
            return
        if isinstance(node, dict):
            node = node.setdefault(key, {})
        elif isinstance(node, list) and isinstance(key, int) and key < len(node):
            node = node[key]
        else:
            return


def config_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    return Path(explicit or os.environ.get("ROLEWATCH_CONFIG") or DEFAULT_CONFIG_PATH)


def read_config_file(path: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """The configuration file's text and its name for messages; ConfigError when it cannot be read."""
    source = config_path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([f"{source}: no configuration file (run `rolewatch init` to write one)"]) from None
    except OSError as error:
        raise ConfigError([f"{source}: {error.strerror}"]) from None
    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        raise ConfigError(
            [f"{source}: the file is empty (run `rolewatch init --force` to write a commented one)"]
        )
    return text, str(source)


def parse_config(
    text: str,
    environ: Mapping[str, str] | None = None,
    origin: str = "<config>",
    *,
    resolvers: Resolvers | None,
) -> Config:
    """Read YAML text, overlay the environment and validate; raise ConfigError listing every problem.

    `resolvers` are the stages' checks (`rolewatch.resolve.parse_config` passes them); None reads
    the shape alone, so it is a required argument rather than a quiet default.
    """
    data = _read_yaml(text, origin) or {}
    if not isinstance(data, dict):
        raise ConfigError([f"{origin}: the top level must be a mapping of keys"])
    overrides = environment_overrides(environ or {})
    data = _apply(data, overrides)
    problems: list[Problem] = _duplicate_names(data)
    raw = dict(data)
    if "sources" in data:
        data["sources"] = _validate_options(data["sources"], problems, resolvers)
    try:
        config = Config.model_validate(data, context={RESOLVERS: resolvers})
    except ValidationError as error:
        problems = _problems(error, data=data, model=Config) + problems
    if problems:
        ordered = [text for _, text in _in_file_order(problems, raw)]
        raise ConfigError(_attribute(ordered, overrides))
    return config


def _read_yaml(text: str, origin: str) -> Any:
    from rolewatch.safe_yaml import YAMLError, load_yaml

    try:
        return load_yaml(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError([f"{origin}: not valid YAML{where}: {getattr(error, 'problem', error)}"]) from None
    except RecursionError:
        raise ConfigError([f"{origin}: not valid YAML: nested too deeply"]) from None
