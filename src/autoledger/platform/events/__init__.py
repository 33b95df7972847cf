"""The event backbone: CloudEvents envelope, transactional outbox, relay, bus adapters,
idempotent consumers with retries and dead letters. See docs/adr/0005-event-backbone.md."""
