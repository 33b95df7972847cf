"""Load shedding on outbox lag: writes are refused (503 + Retry-After) while the bus is too
far behind, instead of letting the outbox grow without bound. Reads keep working.

A sampler refreshes the lag once a second (one indexed count on unsent rows); requests only
read the last sample, so shedding costs a request nothing.
"""

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.errors import Unavailable, describe
from autoledger.platform.events import outbox
from autoledger.platform.events.metrics import EventMetrics

log = structlog.get_logger("autoledger.events.backpressure")


class EventsBacklogged(Unavailable):
    code = "service.events_backlogged"
    title = "Event backlog over its limit"


@dataclass
class LoadShedder:
    sessionmaker: async_sessionmaker[AsyncSession]
    max_lag: int
    metrics: EventMetrics | None = None
    interval: float = 1.0
    lag: outbox.Lag = field(default_factory=lambda: outbox.Lag(0, 0.0))
    _task: "asyncio.Task[None] | None" = None

    @property
    def shedding(self) -> bool:
        return self.lag.unsent > self.max_lag

    def check(self) -> None:
        """Raise the 503 problem when writes must wait."""
        if self.shedding:
            raise EventsBacklogged(
                f"{self.lag.unsent} events are waiting for the bus (limit {self.max_lag}); "
                "retry shortly",
                headers={"Retry-After": str(max(1, round(self.interval * 2)))},
            )

    async def sample(self) -> outbox.Lag:
        async with self.sessionmaker() as session:
            self.lag = await outbox.lag(session)
        if self.metrics is not None:
            self.metrics.outbox_unsent.set(self.lag.unsent)
            self.metrics.outbox_oldest_age.set(self.lag.oldest_age_seconds)
            self.metrics.shedding.set(1 if self.shedding else 0)
        return self.lag

    async def _loop(self) -> None:
        was = False
        while True:
            try:
                await self.sample()
            except Exception as exc:  # keep the last sample; the next round retries
                log.error("backpressure.sample_failed", error=describe(exc))
            if self.shedding != was:
                was = self.shedding
                log.warning(
                    "backpressure.shedding" if was else "backpressure.recovered",
                    unsent=self.lag.unsent,
                    limit=self.max_lag,
                )
            await asyncio.sleep(self.interval)

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="outbox-lag-sampler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
