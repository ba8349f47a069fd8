"""The notifier stage: which subscriptions hear of which events, and getting the messages to
them through the outbox and apprise.

- `query` — the subscription query language, compiled once into posting predicates
- `matching` — which subscriptions want which events: the query plus the structured filters
- `digest` — digest rhythms and when each is next due
- `alerts` — the messages owed for a recorded crawl, written to the outbox with its events
- `messages` — alerts, digests and health notices rendered from the Jinja2 templates in `templates/`
- `channels` — apprise channel URLs: validated, redacted, described and sent to
- `outbox` — the sender: claims due rows, sends them channel by channel, records every attempt
- `sync` — the configuration written to the database, every channel redacted first
"""
