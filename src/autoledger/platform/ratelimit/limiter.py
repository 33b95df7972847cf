"""Per-API-key token buckets: every key may burst ``rate_limit_burst`` requests and then
sustains ``rate_limit_per_second``.

Two backends behind one interface. :class:`MemoryLimiter` keeps the buckets of one process
(bounded, least recently used keys forgotten first); :class:`RedisLimiter` keeps them in Redis,
so every process behind a load balancer draws from the same bucket. The Redis check is one Lua
script (EVALSHA) that reads the clock with ``TIME`` inside Redis, refills, takes and writes back
atomically: processes whose clocks disagree still agree on the bucket.

When Redis is unreachable the limiter *fails open* (ADR 0007): a request is never refused
because the limiter's store is down. The outage is logged once as a warning, and Redis is
probed again at most every ``probe_interval`` seconds, so a dead Redis does not add a connect
timeout to every request.
"""

import math
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from fastapi import Request
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from autoledger.kit.errors import AutoledgerError
from autoledger.kit.settings import Settings
from autoledger.platform.auth.service import Principal

log = structlog.get_logger("autoledger.ratelimit")

# The request state key under which ``enforce`` leaves the headers for the response.
RESPONSE_HEADERS_STATE = "response_headers"


class RateLimited(AutoledgerError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome of one check. ``retry_after`` is the wait until one token is back (0 when
    allowed); ``remaining`` the whole tokens left after this request."""

    allowed: bool
    limit: int
    remaining: int
    retry_after: float

    def headers(self) -> dict[str, str]:
        headers = {"RateLimit-Limit": str(self.limit), "RateLimit-Remaining": str(self.remaining)}
        if not self.allowed:
            # Whole seconds, rounded up, never 0: a client that waits this long gets a token.
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return headers


@dataclass(frozen=True, slots=True)
class Bucket:
    tokens: float
    updated: float


def take(bucket: Bucket | None, now: float, rate: float, capacity: int) -> tuple[Bucket, Decision]:
    """Refill ``bucket`` up to ``now`` and take one token if there is one.

    Invariant: ``0 <= tokens <= capacity``. A missing bucket is a full one. A clock that went
    backwards refills nothing (``elapsed`` is clamped at 0). The Lua script below is this
    function, line for line.
    """
    if bucket is None:
        tokens, updated = float(capacity), now
    else:
        tokens, updated = bucket.tokens, bucket.updated
    tokens = min(float(capacity), tokens + max(0.0, now - updated) * rate)
    if tokens >= 1.0:
        tokens -= 1.0
        return Bucket(tokens, now), Decision(True, capacity, math.floor(tokens), 0.0)
    return Bucket(tokens, now), Decision(False, capacity, 0, (1.0 - tokens) / rate)


class RateLimiter(ABC):
    """One interface, two stores. ``key`` is an API key id; buckets never hold the key."""

    def __init__(self, rate: float, capacity: int) -> None:
        self.rate = rate
        self.capacity = capacity

    @abstractmethod
    async def acquire(self, key: str) -> Decision:
        """Take a token from ``key``'s bucket, or say how long until there is one."""

    async def check(self, key: str) -> None:
        """Take a token or raise :class:`RateLimited` (429 with ``Retry-After``)."""
        decision = await self.acquire(key)
        if not decision.allowed:
            raise self.refusal(decision)

    def refusal(self, decision: Decision) -> RateLimited:
        return RateLimited(
            f"this API key may send {self.capacity} requests at once and {self.rate:g} per second",
            headers=decision.headers(),
        )

    @abstractmethod
    async def aclose(self) -> None:
        """Release the store's connections."""


class MemoryLimiter(RateLimiter):
    """Buckets of this process only. ``max_keys`` bounds memory: the least recently used key
    is forgotten first, which only hands it a full bucket again — and a key idle for
    ``capacity / rate`` seconds has a full bucket anyway."""

    def __init__(
        self,
        rate: float,
        capacity: int,
        *,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(rate, capacity)
        self.max_keys = max_keys
        self.clock = clock
        self._buckets: OrderedDict[str, Bucket] = OrderedDict()

    async def acquire(self, key: str) -> Decision:
        # No await between read and write: one event loop makes this atomic.
        bucket, decision = take(self._buckets.get(key), self.clock(), self.rate, self.capacity)
        self._buckets[key] = bucket
        self._buckets.move_to_end(key)
        while len(self._buckets) > self.max_keys:
            self._buckets.popitem(last=False)
        return decision

    def __len__(self) -> int:
        return len(self._buckets)

    async def aclose(self) -> None:
        self._buckets.clear()


# KEYS[1] = bucket; ARGV = rate, capacity, ttl in ms. Returns {allowed, remaining, retry_after}
# with retry_after as a string (Redis truncates Lua numbers in replies to integers).
_TAKE_SCRIPT = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'updated')
local tokens = tonumber(state[1])
local updated = tonumber(state[2])
if tokens == nil or updated == nil then
  tokens = capacity
  updated = now
end
tokens = math.min(capacity, tokens + math.max(0, now - updated) * rate)
local allowed = 0
local retry_after = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_after = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'updated', tostring(now))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return {allowed, math.floor(tokens), tostring(retry_after)}
"""


class RedisLimiter(RateLimiter):
    """Buckets shared by every process that uses the same Redis and ``prefix``.

    A bucket key expires once it would have refilled completely (``capacity / rate`` plus a
    second): an idle key costs no memory, and an expired bucket is a full one.
    """

    def __init__(
        self,
        client: "Redis",
        rate: float,
        capacity: int,
        *,
        prefix: str,
        probe_interval: float = 1.0,
    ) -> None:
        super().__init__(rate, capacity)
        self.client = client
        self.prefix = prefix
        self.probe_interval = probe_interval
        self._ttl_ms = math.ceil(capacity / rate * 1000) + 1000
        self._script = client.register_script(_TAKE_SCRIPT)
        self._down_since: float | None = None
        self._next_probe = 0.0

    @classmethod
    def from_url(cls, url: str, rate: float, capacity: int, *, prefix: str) -> "RedisLimiter":
        # Short timeouts and no retries: a slow or dead Redis must cost a request little,
        # since the answer then is "allow" anyway.
        client = Redis.from_url(
            url,
            socket_timeout=0.25,
            socket_connect_timeout=0.25,
            retry=Retry(NoBackoff(), 0),
        )
        return cls(client, rate, capacity, prefix=prefix)

    def bucket_key(self, key: str) -> str:
        return f"{self.prefix}:ratelimit:{key}"

    async def acquire(self, key: str) -> Decision:
        now = time.monotonic()
        if self._down_since is not None and now < self._next_probe:
            return self._open()
        try:
            reply = await self._script(
                keys=[self.bucket_key(key)], args=[repr(self.rate), self.capacity, self._ttl_ms]
            )
        except (RedisError, OSError) as exc:  # OSError covers TimeoutError
            if self._down_since is None:
                self._down_since = now
                log.warning("ratelimit.redis_unavailable", error=type(exc).__name__, fail="open")
            self._next_probe = now + self.probe_interval
            return self._open()
        if self._down_since is not None:
            log.info("ratelimit.redis_recovered", down_seconds=round(now - self._down_since, 3))
            self._down_since = None
        allowed, remaining, retry_after = reply
        return Decision(bool(allowed), self.capacity, int(remaining), float(retry_after))

    def _open(self) -> Decision:
        return Decision(True, self.capacity, self.capacity, 0.0)

    async def aclose(self) -> None:
        await self.client.aclose()


def create_limiter(settings: Settings) -> RateLimiter:
    """Redis-backed when ``AUTOLEDGER_REDIS_URL`` is set, else per process."""
    if settings.redis_url:
        return RedisLimiter.from_url(
            settings.redis_url,
            settings.rate_limit_per_second,
            settings.rate_limit_burst,
            prefix=settings.bus_namespace,
        )
    return MemoryLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)


async def enforce(request: Request, principal: Principal) -> None:
    """Charge one request to the calling key; 429 + ``Retry-After`` once its bucket is empty.

    Called by the authentication dependency, so every authenticated route is limited and an
    unauthenticated request never reaches a bucket. The ``RateLimit-*`` headers are left in the
    request state for :class:`~autoledger.api.middleware.RequestContextMiddleware` to send.
    """
    limiter: RateLimiter = request.app.state.rate_limiter
    decision = await limiter.acquire(str(principal.key_id))
    setattr(request.state, RESPONSE_HEADERS_STATE, decision.headers())
    if not decision.allowed:
        raise limiter.refusal(decision)
