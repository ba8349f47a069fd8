"""The scheduler stage: when each source is crawled (APScheduler), and the daemon that crawls, records
and delivers on that schedule.

- `daemon` — `rolewatch run`: stand by for the scheduler lock, then schedule until stopped
- `lock` — one active scheduler per database
- `active` — what the active scheduler does: a crawl job per source, delivery, daily maintenance
- `schedule` — each source's trigger and its first run after a (re)start
- `lanes` — per-host crawl lanes, so sources on one host are crawled together, one batch at a time
- `pipeline` — one pass through the stages: crawl a batch, record each result, write the outbox
- `state` — what the running daemon knows of itself; `metrics` — its Prometheus metrics
- `http` — `/healthz` and `/metrics` on the daemon's own event loop
- `memory` — a long-running daemon's memory kept flat
- `cluster/` — `engine: procrastinate`: crawl jobs queued in PostgreSQL for workers on any machine
"""
