"""Per-key token buckets: the arithmetic (with a clock the test moves), the Redis store shared
by several limiters, failing open when Redis is down, and the 429 a client sees."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
from fastapi import Request
from redis.asyncio import Redis
from redis.exceptions import RedisError
from structlog.testing import capture_logs

from autoledger.api.app import create_app
from autoledger.kit.settings import Settings
from autoledger.platform.ratelimit import (
    MemoryLimiter,
    RateLimited,
    RedisLimiter,
    create_limiter,
    enforce,
)
from tests.api.test_errors_and_observability import assert_problem, serving
from tests.conftest import service_unavailable

REDIS_URL = "redis://127.0.0.1:6379/0"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# The arithmetic


async def test_a_key_bursts_to_capacity_then_waits_for_the_refill() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(rate=2.0, capacity=3, clock=clock)
    decisions = [await limiter.acquire("k") for _ in range(3)]
    assert [d.allowed for d in decisions] == [True, True, True]
    assert [d.remaining for d in decisions] == [2, 1, 0]

    refused = await limiter.acquire("k")
    assert not refused.allowed
    assert refused.retry_after == pytest.approx(0.5)  # one token at 2 per second
    assert refused.headers()["Retry-After"] == "1"

    clock.now += 0.5
    assert (await limiter.acquire("k")).allowed
    assert not (await limiter.acquire("k")).allowed


async def test_retry_after_is_whole_seconds_rounded_up() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(rate=0.4, capacity=1, clock=clock)
    await limiter.acquire("k")
    clock.now += 1.0  # 0.4 of a token back; 0.6 missing at 0.4/s = 1.5 s
    refused = await limiter.acquire("k")
    assert refused.retry_after == pytest.approx(1.5)
    assert refused.headers() == {
        "RateLimit-Limit": "1",
        "RateLimit-Remaining": "0",
        "Retry-After": "2",
    }
    clock.now += 1.5
    assert (await limiter.acquire("k")).allowed


async def test_an_idle_bucket_refills_only_to_capacity() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(rate=100.0, capacity=5, clock=clock)
    await limiter.acquire("k")
    clock.now += 3600
    allowed = [(await limiter.acquire("k")).allowed for _ in range(6)]
    assert allowed == [True] * 5 + [False]


async def test_a_clock_going_backwards_refills_nothing() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(rate=1.0, capacity=1, clock=clock)
    assert (await limiter.acquire("k")).allowed
    clock.now -= 60
    assert not (await limiter.acquire("k")).allowed


async def test_keys_have_separate_buckets_and_the_map_is_bounded() -> None:
    clock = FakeClock()
    limiter = MemoryLimiter(rate=1.0, capacity=1, max_keys=2, clock=clock)
    assert (await limiter.acquire("a")).allowed
    assert (await limiter.acquire("b")).allowed
    assert not (await limiter.acquire("a")).allowed
    assert (await limiter.acquire("c")).allowed
    assert len(limiter) == 2  # "b", least recently used, was forgotten


async def test_check_raises_a_429_error_with_retry_after() -> None:
    limiter = MemoryLimiter(rate=0.1, capacity=1, clock=FakeClock())
    await limiter.check("k")
    with pytest.raises(RateLimited) as raised:
        await limiter.check("k")
    assert raised.value.status == 429
    assert raised.value.code == "rate_limited"
    assert raised.value.headers["Retry-After"] == "10"


def test_the_store_follows_the_settings(settings: Settings) -> None:
    assert isinstance(create_limiter(settings), MemoryLimiter)
    shared = settings.model_copy(update={"redis_url": REDIS_URL})
    assert isinstance(create_limiter(shared), RedisLimiter)


# Redis


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    """A key prefix of this test's own on the real Redis; its keys are deleted afterwards."""
    client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        await client.aclose()
        service_unavailable(f"Redis unreachable at {REDIS_URL}: {exc}")
    prefix = f"autoledger-test-{uuid.uuid4().hex[:12]}"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_two_limiters_share_one_redis_bucket(redis_prefix: str) -> None:
    first = RedisLimiter.from_url(REDIS_URL, rate=0.01, capacity=3, prefix=redis_prefix)
    second = RedisLimiter.from_url(REDIS_URL, rate=0.01, capacity=3, prefix=redis_prefix)
    try:
        taken = [
            await first.acquire("key-1"),
            await second.acquire("key-1"),
            await first.acquire("key-1"),
        ]
        assert [d.allowed for d in taken] == [True, True, True]
        assert [d.remaining for d in taken] == [2, 1, 0]
        for limiter in (first, second):
            refused = await limiter.acquire("key-1")
            assert not refused.allowed
            assert 99 < refused.retry_after <= 100  # a token every 100 s
            assert refused.headers()["Retry-After"] == "100"
        # Another key has its own bucket.
        assert (await second.acquire("key-2")).allowed

        # The bucket expires once it would be full again: idle keys cost no memory.
        ttl = await first.client.pttl(first.bucket_key("key-1"))
        assert 0 < ttl <= 301_000
    finally:
        await first.aclose()
        await second.aclose()


async def test_the_redis_bucket_refills_with_redis_time(redis_prefix: str) -> None:
    limiter = RedisLimiter.from_url(REDIS_URL, rate=20.0, capacity=1, prefix=redis_prefix)
    try:
        assert (await limiter.acquire("k")).allowed
        refused = await limiter.acquire("k")
        assert not refused.allowed
        assert 0 < refused.retry_after <= 0.05
        await limiter.client.execute_command("SCRIPT", "FLUSH")  # EVALSHA reloads the script
        async with asyncio.timeout(5):
            while not (await limiter.acquire("k")).allowed:
                pass
    finally:
        await limiter.aclose()


async def test_an_unreachable_redis_fails_open_with_one_warning() -> None:
    limiter = RedisLimiter.from_url(
        "redis://127.0.0.1:1/0", rate=0.001, capacity=1, prefix="unreachable"
    )
    limiter.probe_interval = 0  # probe on every call: each one fails
    try:
        with capture_logs() as logs:
            decisions = [await limiter.acquire("k") for _ in range(3)]
    finally:
        await limiter.aclose()
    assert all(d.allowed for d in decisions)
    warnings = [entry for entry in logs if entry["event"] == "ratelimit.redis_unavailable"]
    assert len(warnings) == 1
    assert warnings[0]["log_level"] == "warning"


# Through the API


async def test_a_limited_key_gets_a_429_problem_with_retry_after(settings: Settings) -> None:
    config = settings.model_copy(update={"rate_limit_per_second": 0.5, "rate_limit_burst": 2})
    application = create_app(config)
    caller = SimpleNamespace(key_id=uuid.uuid4())

    async def limited(request: Request) -> dict[str, bool]:
        await enforce(request, caller)  # type: ignore[arg-type]
        return {"ok": True}

    application.add_api_route("/v1/test/limited", limited)
    async with serving(application) as http:
        responses = [await http.get("/v1/test/limited") for _ in range(3)]

    assert [r.status_code for r in responses[:2]] == [200, 200]
    assert responses[0].headers["ratelimit-limit"] == "2"
    assert [r.headers["ratelimit-remaining"] for r in responses[:2]] == ["1", "0"]
    body = assert_problem(responses[2], 429, "rate_limited")
    assert "per second" in body["detail"]
    assert responses[2].headers["retry-after"] == "2"
    assert responses[2].headers["ratelimit-remaining"] == "0"


async def test_the_api_shares_buckets_through_redis(settings: Settings, redis_prefix: str) -> None:
    config = settings.model_copy(
        update={"rate_limit_per_second": 0.01, "rate_limit_burst": 1, "redis_url": REDIS_URL}
    )
    caller = SimpleNamespace(key_id=uuid.uuid4())

    async def limited(request: Request) -> None:
        await enforce(request, caller)  # type: ignore[arg-type]

    statuses = []
    for _ in range(2):  # two processes' worth of apps, one Redis
        application = create_app(config)
        assert isinstance(application.state.rate_limiter, RedisLimiter)
        await application.state.rate_limiter.aclose()
        application.state.rate_limiter = RedisLimiter.from_url(
            REDIS_URL, rate=0.01, capacity=1, prefix=redis_prefix
        )
        application.add_api_route("/v1/test/limited", limited)
        async with serving(application) as http:
            statuses.append((await http.get("/v1/test/limited")).status_code)
        await application.state.rate_limiter.aclose()
    assert statuses == [200, 429]
