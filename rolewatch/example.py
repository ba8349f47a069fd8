"""The commented configuration `rolewatch init` writes, with every default shown as it really is."""

from __future__ import annotations

import yaml

from crawler.registry import source_types
from rolewatch.config import Defaults, Politeness, format_duration

_TEMPLATE = """\
# rolewatch configuration. Every key can be overridden by an environment variable:
# ROLEWATCH_DATABASE_URL for `database`, ROLEWATCH_DEFAULTS__INTERVAL for defaults.interval, and so on.
# Validate with `rolewatch check`; crawl once with `rolewatch crawl`.

database: {database}   # or postgresql+psycopg://user:password@host/dbname

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
