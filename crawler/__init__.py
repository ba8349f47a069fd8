"""The crawler stage: boards turned into normalised postings plus a crawl verdict, by Scrapy
spiders (one per source type), in worker processes apart from the scheduler.

- `registry` — the source types: the built-ins plus any registered under `rolewatch.source_types`
- `types/` — one declaration per type (its options and registration), without Scrapy
- `spider` — the base spider: accounting and a verdict per source; `spiders/` — one spider per type
- `normalize/` — dates, descriptions, employment types, locations, pay, work rights, text and URLs
- `verdict` — the crawl verdict from a source's own accounting (pure)
- `settings` — Scrapy settings from the politeness configuration
- `middlewares` — the trust boundary, deadlines, back-off, conditional requests, robots
- `trust` — where a source's requests may go
- `run` — crawl sources in a worker process and stream the results back
- `workers` — worker processes kept warm and retired before they age; `child` — the worker itself
"""
