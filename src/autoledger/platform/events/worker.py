"""The event worker: relay, consumers and background services of one process.

``autoledger worker`` runs one for the distributed deployment (API and workers scaled
apart); ``autoledger serve`` runs one in-process in the embedded mode. Stopping is graceful:
the relay finishes its round and hands back its leases, subscriptions stop taking messages
and wait for the handlers in flight, then the bus closes.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import describe
from autoledger.kit.settings import Settings
from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Bus, Subscription
from autoledger.platform.events.consumers import Consumer, ConsumerRunner, RetryPolicy
from autoledger.platform.events.metrics import EventMetrics
from autoledger.platform.events.relay import Relay

log = structlog.get_logger("autoledger.events.worker")


class Service(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass
class EventWorker:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    consumers: Sequence[Consumer]
    metrics: EventMetrics | None = None
    relay_enabled: bool = True
    services: Sequence[Service] = ()
    runners: list[ConsumerRunner] = field(default_factory=list)
    relay: Relay | None = None
    _subscriptions: list[Subscription] = field(default_factory=list)

    async def start(self) -> None:
        s = self.settings
        await self.bus.connect()
        if self.relay_enabled and self.bus.name == "inprocess" and s.inprocess_redeliver_seconds:
            await self._redeliver_recent(s.inprocess_redeliver_seconds)
        retry = RetryPolicy(
            s.consumer_max_attempts, s.consumer_backoff_base_seconds, s.consumer_backoff_max_seconds
        )
        metrics = self.metrics
        # Subscribe before relaying, so a group exists before the first event reaches the bus.
        for consumer in self.consumers:
            runner = ConsumerRunner(
                consumer,
                self.sessionmaker,
                retry,
                on_result=metrics.consumed if metrics is not None else None,
            )
            self.runners.append(runner)
            self._subscriptions.append(
                await runner.start(
                    self.bus, prefetch=s.consumer_prefetch, ack_wait=s.consumer_ack_wait_seconds
                )
            )
        if self.relay_enabled:
            self.relay = Relay(
                self.sessionmaker,
                self.bus,
                batch_size=s.relay_batch_size,
                idle_seconds=s.relay_idle_seconds,
                lease_seconds=s.relay_lease_seconds,
                on_published=metrics.published_for(self.bus.name) if metrics is not None else None,
            )
            await self.relay.start()
        for service in self.services:
            await service.start()
        log.info(
            "worker.started",
            bus=self.bus.name,
            consumers=[c.name for c in self.consumers],
            relay=self.relay_enabled,
        )

    async def _redeliver_recent(self, seconds: float) -> None:
        since = utcnow() - timedelta(seconds=seconds)
        try:
            async with self.sessionmaker() as session, session.begin():
                again = await outbox.requeue_published_since(session, since)
        except Exception as exc:  # the relay's own retries report a database that is down
            log.error("worker.inprocess_redeliver_failed", error=describe(exc))
            return
        if again:
            log.info("worker.inprocess_redeliver", events=again)

    def wake(self) -> None:
        if self.relay is not None:
            self.relay.wake()

    async def stop(self) -> None:
        for service in reversed(self.services):
            try:
                await service.stop()
            except Exception as exc:  # one service failing to stop must not keep others up
                log.error(
                    "worker.service_stop_failed",
                    service=type(service).__name__,
                    error=describe(exc),
                )
        if self.relay is not None:
            await self.relay.stop()
        await asyncio.gather(*(s.stop() for s in self._subscriptions), return_exceptions=True)
        self._subscriptions.clear()
        await self.bus.close()
        log.info("worker.stopped")
