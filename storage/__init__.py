"""The storage stage: every posting's history in SQLAlchemy (SQLite or PostgreSQL), each crawl
turned into events, and the outbox the notifier sends from.

- `database` — engines tuned per backend, the shared upsert and chunked `IN` lists, migrations from code
- `models` — the schema; `migrations/` — the Alembic revisions that build it
- `sync` — the configured sources and subscriptions kept as rows
- `diff` — the pure judgement of a crawl: (stored state, crawl result, policy) → events and new state
- `state` — the stored state a crawl is judged on, and the validators and digests the crawler is handed
- `recording` — `record_crawl`: the diff's outcome written in one transaction, with its `then` hook
- `snapshot` — a posting as JSON-ready data and back, as versions keep it
- `health` — each source's run of troubled crawls, for the operators' notices
- `outbox` — owed messages: written with their events, claimed, attempted, listed, re-queued
- `schedule` — when each source last ran and is next due
- `queries` — the CLI's reads; `browse` and `trends` — the web's pages and charts; `stats` — `/metrics`
- `maintenance` — the daily clean-up of the crawl log
- `cluster` — the crawl-job ledger and host turns beside procrastinate's queue
"""
