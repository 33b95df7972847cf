"""Abuse limits: per-API-key token buckets, in memory or shared through Redis (ADR 0007)."""

from autoledger.platform.ratelimit.limiter import (
    Decision,
    MemoryLimiter,
    RateLimited,
    RateLimiter,
    RedisLimiter,
    create_limiter,
    enforce,
)

__all__ = [
    "Decision",
    "MemoryLimiter",
    "RateLimited",
    "RateLimiter",
    "RedisLimiter",
    "create_limiter",
    "enforce",
]
