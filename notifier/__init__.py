"""Stage 3: match events to subscriptions and deliver them through the outbox (the notifier issue)."""
