"""Cross-cutting services: auth, observability (later: audit, events, idempotency, crypto)."""
