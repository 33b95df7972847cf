"""Event backbone throughput and latency on PostgreSQL, per bus (``make bench-events``).

For each bus (in-process, NATS JetStream at 127.0.0.1:4222, the Pub/Sub emulator at
``PUBSUB_EMULATOR_HOST``) in a throw-away database:

* **relay throughput**: ``EVENTS`` events (default 100,000) are committed to the outbox
  first, then one relay (batches of ``relay_batch_size``) publishes them while a subscriber
  acks every delivery. Reported: events/s until the outbox is drained (relay) and until the
  subscriber has seen them all (end to end).
* **delivery lag**: a producer commits events at ``RATE`` per second (default 1,000, in
  transactions of 10 every 10 ms) for ``SECONDS`` with the relay running; the subscriber
  records ``receive time - event time`` (commit to delivery, one clock). Reported: p50/p99.

The subscriber acks at the bus level (no consumer transaction), so this measures the
backbone, not a handler. Progress on stderr; the last stdout line is one JSON object.
"""

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from pydantic import BaseModel
from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.migrate import upgrade
from autoledger.kit.clock import utcnow
from autoledger.kit.settings import Settings
from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Bus, Delivery
from autoledger.platform.events.buses import create_bus
from autoledger.platform.events.envelope import Event, make_event
from autoledger.platform.events.nats_bus import NatsBus
from autoledger.platform.events.pubsub_bus import PubSubBus
from autoledger.platform.events.relay import Relay
from autoledger.platform.events.tables import OutboxRecord
from bench.common import machine_info, percentile, say, throwaway_database

NATS_TARGET = 5_000.0
LAG_TARGET_MS = 1_000.0
KEYS = 16


def log(message: str) -> None:
    say("bench.events", message)


class Tick(BaseModel):
    n: int


def events(count: int, start: int = 0) -> list[Event]:
    tenant = uuid.UUID(int=1)
    return [
        make_event(
            event_type="bench.tick.v1",
            tenant_id=tenant,
            subject=f"ticks/{n}",
            data=Tick(n=n),
            ordering_key=f"{tenant}/k{n % KEYS}",
        )
        for n in range(start, start + count)
    ]


@dataclass
class Subscriber:
    """Acks everything; records arrival counts and commit-to-delivery lag."""

    seen: set[str] = field(default_factory=set)
    lags_ms: list[float] = field(default_factory=list)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expect: int = 0

    async def handle(self, delivery: Delivery) -> None:
        # orjson, not the pydantic model: the subscriber shares the relay's process and cores
        sent = datetime.fromisoformat(orjson.loads(delivery.message.body)["time"])
        self.lags_ms.append((utcnow() - sent).total_seconds() * 1000)
        self.seen.add(delivery.message.id)
        await delivery.ack()
        if len(self.seen) >= self.expect:
            self.done.set()


def bus_settings(kind: str, url: str) -> Settings:
    return Settings(
        database_url=url,
        bus=kind,  # type: ignore[arg-type]
        bus_namespace=f"bench{uuid.uuid4().hex[:8]}",  # a fresh stream/topic per phase
        pubsub_emulator_host=os.environ.get("PUBSUB_EMULATOR_HOST", "127.0.0.1:8085"),
    )


async def clear_outbox(sm: async_sessionmaker[AsyncSession]) -> None:
    async with sm() as session:
        await session.execute(delete(OutboxRecord))
        await session.commit()


@asynccontextmanager
async def connected(settings: Settings) -> AsyncIterator[Bus]:
    bus = create_bus(settings)
    await bus.connect()
    try:
        yield bus
    finally:
        if isinstance(bus, NatsBus | PubSubBus):
            await bus.delete_namespace()
        await bus.close()


async def throughput(
    kind: str, url: str, sm: async_sessionmaker[AsyncSession], count: int
) -> dict[str, Any]:
    settings = bus_settings(kind, url)
    await clear_outbox(sm)
    async with connected(settings) as bus:
        sub = Subscriber(expect=count)
        subscription = await bus.subscribe("bench", sub.handle, prefetch=1000, ack_wait=60)
        log(f"{kind}: committing {count} events to the outbox")
        for start in range(0, count, 5000):
            async with sm() as session:
                await outbox.append(session, events(min(5000, count - start), start))
                await session.commit()
        relay = Relay(sm, bus, batch_size=settings.relay_batch_size)
        t0 = time.perf_counter()
        while await relay.run_once():
            pass
        relay_s = time.perf_counter() - t0
        await asyncio.wait_for(sub.done.wait(), timeout=600)
        e2e_s = time.perf_counter() - t0
        await subscription.stop()
    result = {
        "events": count,
        "relay_events_per_s": round(count / relay_s),
        "end_to_end_events_per_s": round(count / e2e_s),
    }
    log(f"{kind}: {result}")
    return result


async def lag(
    kind: str, url: str, sm: async_sessionmaker[AsyncSession], rate: int, seconds: float
) -> dict[str, Any]:
    settings = bus_settings(kind, url)
    await clear_outbox(sm)
    total = int(rate * seconds)
    async with connected(settings) as bus:
        sub = Subscriber(expect=total)
        subscription = await bus.subscribe("lag", sub.handle, prefetch=1000, ack_wait=60)
        relay = Relay(
            sm, bus, batch_size=settings.relay_batch_size, idle_seconds=settings.relay_idle_seconds
        )
        await relay.start()
        log(f"{kind}: {rate} events/s for {seconds:.0f} s")
        per_txn = max(1, rate // 100)
        loop = asyncio.get_running_loop()
        begin = loop.time()
        for i in range(0, total, per_txn):
            async with sm() as session:
                await outbox.append(session, events(per_txn, i))
                await session.commit()
            delay = begin + (i + per_txn) / rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
        await asyncio.wait_for(sub.done.wait(), timeout=120)
        await relay.stop()
        await subscription.stop()
    lags = sorted(sub.lags_ms)
    result = {
        "lag_rate_per_s": rate,
        "lag_events": total,
        "lag_p50_ms": round(percentile(lags, 0.50), 1),
        "lag_p99_ms": round(percentile(lags, 0.99), 1),
        "lag_max_ms": round(lags[-1], 1) if lags else 0.0,
    }
    log(f"{kind}: {result}")
    return result


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with throwaway_database("autoledger_bench_events") as (url, version):
        await asyncio.to_thread(upgrade, Settings(database_url=url))
        results: dict[str, Any] = {}
        engine = create_engine(Settings(database_url=url))
        sm = create_sessionmaker(engine)
        try:
            for kind in args.bus:
                results[kind] = await throughput(kind, url, sm, args.events) | await lag(
                    kind, url, sm, args.rate, args.seconds
                )
        finally:
            await engine.dispose()
    nats = results.get("nats", {})
    return {
        "benchmark": "events",
        "machine": machine_info(version),
        "buses": results,
        "targets": {
            "nats_relay_events_per_s": NATS_TARGET,
            "lag_p99_ms_at_1000_per_s": LAG_TARGET_MS,
        },
        "met": {
            "nats_throughput": nats.get("relay_events_per_s", 0) >= NATS_TARGET,
            "nats_lag": 0 < nats.get("lag_p99_ms", 1e9) < LAG_TARGET_MS,
        }
        if nats
        else {},
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bus", nargs="+", default=["inprocess", "nats", "pubsub"])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    print(json.dumps(asyncio.run(main(parser.parse_args()))))
