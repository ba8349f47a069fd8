"""Stage 3: match events to subscriptions and deliver them through the outbox; lands with the notifier issue."""
