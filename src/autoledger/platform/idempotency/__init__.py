"""Idempotency keys: a replay returns the stored response; a different body is a conflict."""
