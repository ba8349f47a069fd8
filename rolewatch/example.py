"""The commented configuration `rolewatch init` writes, with every default shown as it really is."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import yaml
from pydantic import BaseModel

from crawler.registry import source_types
from rolewatch.config import (
    Daemon,
    Defaults,
    Delivery,
    Operators,
    Politeness,
    Subscription,
    Web,
    format_duration,
)

_TEMPLATE = """\
# rolewatch configuration. Every key can be overridden by an environment variable:
# ROLEWATCH_DATABASE_URL for `database`, ROLEWATCH_DEFAULTS__INTERVAL for defaults.interval, and so on.
# Validate with `rolewatch check`; crawl once with `rolewatch crawl`.

database: {database}   # or postgresql+psycopg://user:password@host/dbname
engine: local          # local: one daemon does everything; procrastinate: `run` schedules, `worker`s crawl

defaults:
  interval: {interval}              # how often: 90s, 15m, 2h, 1d, or cron "*/15 * * * *"
  jitter: {jitter}                  # spread start times by this share of the interval
  close_after_misses: {close_after_misses}          # complete crawls missing a posting before it is CLOSED
  max_drop: {max_drop}                # a crawl losing more than this share of open postings is "suspect"
  timeout: {timeout}                 # one source's crawl, end to end
  user_agent: "{user_agent}"
  obey_robots: {obey_robots}
  politeness:                     # per host, shared by every source on that host
    concurrency_per_host: {concurrency_per_host}
    delay: {delay}                      # minimum pause between requests to one host
    autothrottle: {autothrottle}             # slow down when the host slows down
    retries: {retries}                    # retries of a failed request (5xx, 429, time-out)
    max_retry_after: {max_retry_after}            # the longest Retry-After rolewatch will wait for
    request_timeout: {request_timeout}
    max_response_size: {max_response_size}       # bytes; larger responses are refused
    conditional_requests: {conditional_requests}     # send the server's ETag / Last-Modified back

# One entry per board. `name` is yours; `type` picks the source type; the other keys are the type's own.
# Any source may also set interval, jitter, close_after_misses, max_drop, timeout, enabled, and
# base_url (to point an API-backed type at a mirror, a regional host or a test server).
sources:
{sources}

{sections}
"""


def example_config(database: str = "sqlite:///rolewatch.db") -> str:
    """The text of a fresh `rolewatch.yaml`; it validates as it stands (a test makes sure)."""
    defaults, politeness = Defaults(), Politeness()
    return _TEMPLATE.format(
        database=database,
        interval=str(defaults.interval),
        jitter=f"{defaults.jitter:.0%}",
        close_after_misses=defaults.close_after_misses,
        max_drop=f"{defaults.max_drop:.0%}",
        timeout=format_duration(defaults.timeout),
        user_agent=defaults.user_agent,
        obey_robots=str(defaults.obey_robots).lower(),
        concurrency_per_host=politeness.concurrency_per_host,
        delay=format_duration(politeness.delay),
        autothrottle=str(politeness.autothrottle).lower(),
        retries=politeness.retries,
        max_retry_after=format_duration(politeness.max_retry_after),
        request_timeout=format_duration(politeness.request_timeout),
        max_response_size=politeness.max_response_size,
        conditional_requests=str(politeness.conditional_requests).lower(),
        sources=_source_examples(),
        sections=_sections(),
    )


#: Source types whose example is written active; every other type's example is written commented out,
#: so a fresh configuration crawls a handful of boards, not one of every kind.
STARTERS = ("greenhouse", "lever", "simplify")


def _source_examples() -> str:
    blocks = []
    kinds = sorted(source_types().values(), key=lambda kind: (kind.name not in STARTERS, kind.name))
    for kind in kinds:
        entry = yaml.safe_dump([dict(kind.example)], sort_keys=False, default_flow_style=False).rstrip()
        prefix = "  " if kind.name in STARTERS else "  # "
        blocks.append(
            f"  # {kind.name}: {kind.description}\n"
            + "\n".join(f"{prefix}{line}" for line in entry.splitlines())
        )
    return "\n".join(blocks)


#: A commented subscription: every key with an example value (a default where the default is the example).
SUBSCRIPTION_EXAMPLE: dict[str, Any] = {
    "name": "grad-data",
    "query": 'title:(graduate OR intern) AND (data OR "machine learning")',
    "locations": ["Sydney", "Remote"],
    "employment_types": ["graduate", "intern"],
    "min_salary": {"amount": 70000, "currency": "AUD", "per": "year"},
    "notify": ["mailto://you:app-password@gmail.com"],
}

#: What a key whose default is unset looks like when set; written commented out.
_UNSET_EXAMPLES = {"templates": "./templates", "http": "127.0.0.1:9100"}

_HEADINGS = {
    "subscriptions": "Who hears about which roles; uncomment and edit. `rolewatch subscriptions test NAME`\n"
    "# shows what one would have matched; a posting must pass every key given.",
    "operators": "Who hears about the health of the sources (not about roles).",
    "delivery": "How the outbox retries a failed send: exponential back-off, then parked as dead.",
    "daemon": "`rolewatch run`: the scheduler's own settings.",
    "web": "The read-only dashboard, feeds and API (`rolewatch web`); auth: see `rolewatch web --hash`.",
}


def _sections() -> str:
    """The subscriptions example and every other section with its defaults, comments aligned."""
    blocks = [
        f"# {_HEADINGS['subscriptions']}\nsubscriptions: []  # replace [] with entries like this one:\n"
        + _subscription_example()
    ]
    for name, model in (
        ("operators", Operators()),
        ("delivery", Delivery()),
        ("daemon", Daemon()),
        ("web", Web()),
    ):
        blocks.append(f"# {_HEADINGS[name]}\n{name}:\n" + _aligned(_rows(model), "  "))
    return "\n\n".join(blocks)


def _subscription_example() -> str:
    rows = []
    for key, field in Subscription.model_fields.items():
        value = SUBSCRIPTION_EXAMPLE.get(key, field.get_default(call_default_factory=True))
        if isinstance(value, dict):
            value = "{" + ", ".join(f"{k}: {_scalar(v)}" for k, v in value.items()) + "}"
            rows.append((f"{key}: {value}", field.description or ""))
        else:
            rows.append((f"{key}: {_scalar(value)}", field.description or ""))
    first, *rest = _aligned(rows, "").splitlines()
    return "\n".join([f"  # - {first}", *(f"  #   {line}" for line in rest)])


def _rows(model: BaseModel) -> list[tuple[str, str]]:
    rows = []
    for key, field in type(model).model_fields.items():
        value = getattr(model, key)
        if isinstance(value, BaseModel):
            continue
        if value is None:
            rows.append((f"# {key}: {_UNSET_EXAMPLES.get(key, '')}".rstrip(), field.description or ""))
        else:
            rows.append((f"{key}: {_scalar(value)}", field.description or ""))
    return rows


def _aligned(rows: list[tuple[str, str]], indent: str) -> str:
    width = max(len(left) for left, _ in rows) + 2
    return "\n".join(
        f"{indent}{left.ljust(width)}# {comment}" if comment else f"{indent}{left}" for left, comment in rows
    )


def _scalar(value: Any) -> str:
    """A value as YAML writes it inline: durations as `30s`, lists in brackets, strings quoted when needed."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, list):
        return "[" + ", ".join(_scalar(item) for item in value) + "]"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    if ":" in text or '"' in text or "#" in text:
        return "'" + text.replace("'", "''") + "'"  # a time, a host:port or a query, read back as written
    return yaml.safe_dump(text, default_flow_style=True, width=10**6).strip().removesuffix("...").strip()
