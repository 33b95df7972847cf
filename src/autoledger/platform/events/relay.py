"""The relay: moves committed outbox rows to the bus, in order per key, at least once.

Each round leases a batch (see :func:`outbox.claim`), publishes it, marks what the broker
accepted as sent and gives the rest back with a growing delay. A relay killed between publish
and mark leaves its rows leased; when the lease runs out another relay (or the restarted one)
publishes them again under the same dedup id, which the broker drops (NATS) or the
consumers' inbox absorbs (Pub/Sub, in-process): delivered at least once, applied once.
"""

import asyncio
import contextlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.errors import describe
from autoledger.kit.ids import new_id
from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Bus, Message

log = structlog.get_logger("autoledger.events.relay")


def relay_owner() -> str:
    return f"{socket.gethostname()[:30]}:{os.getpid()}:{new_id().hex[-8:]}"


@dataclass
class Relay:
    sessionmaker: async_sessionmaker[AsyncSession]
    bus: Bus
    batch_size: int = 500
    idle_seconds: float = 0.05
    lease_seconds: float = 30.0
    owner: str = field(default_factory=relay_owner)
    on_published: Callable[[int], None] | None = None
    published: int = 0
    failures: int = 0
    _wake: asyncio.Event = field(default_factory=asyncio.Event)
    _stopping: bool = False
    _holding: bool = False  # leases taken and not yet settled (a round failed half-way)
    _task: "asyncio.Task[None] | None" = None

    async def run_once(self) -> int:
        """One claim → publish → mark round; the number of events the broker accepted."""
        async with self.sessionmaker() as session:
            claimed = await outbox.claim(session, self.owner, self.batch_size, self.lease_seconds)
        if not claimed:
            return 0
        self._holding = True
        messages = [Message(c.dedup_id, c.ordering_key, c.type, c.body) for c in claimed]
        try:
            results: list[BaseException | None] = await self.bus.publish(messages)
        except Exception as exc:  # the whole batch failed (broker unreachable, ...)
            results = [exc] * len(messages)
        sent = [c.seq for c, r in zip(claimed, results, strict=True) if r is None]
        failed = [
            (c.seq, f"{type(r).__name__}: {r}")
            for c, r in zip(claimed, results, strict=True)
            if r is not None
        ]
        self.failures = self.failures + 1 if failed else 0
        async with self.sessionmaker() as session, session.begin():
            await outbox.mark_sent(session, self.owner, sent)
            if failed:
                await outbox.release(
                    session, self.owner, failed, retry_in=min(0.25 * 2**self.failures, 10.0)
                )
        self._holding = False
        if failed:
            log.warning(
                "relay.publish_failed", failed=len(failed), sent=len(sent), error=failed[0][1]
            )
        self.published += len(sent)
        if self.on_published is not None and sent:
            self.on_published(len(sent))
        return len(sent)

    def wake(self) -> None:
        """New rows were committed: skip the idle wait."""
        self._wake.set()

    async def _loop(self) -> None:
        backoff = 0.0
        while not self._stopping:
            try:
                count = await self.run_once()
                backoff = 0.0
            except Exception as exc:  # database or bus down: retry with backoff
                backoff = min(max(backoff * 2, 0.5), 10.0)
                log.error("relay.round_failed", retry_in=backoff, error=describe(exc))
                count = 0
            if count == 0 and not self._stopping:
                self._wake.clear()
                wait = backoff or (
                    self.idle_seconds if not self.failures else min(0.25 * 2**self.failures, 10.0)
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def start(self) -> None:
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="outbox-relay")

    async def stop(self) -> None:
        """Finish the round in flight, then hand back any lease this relay still holds."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if not self._holding:
            return
        try:
            async with self.sessionmaker() as session, session.begin():
                released = await outbox.release_all(session, self.owner)
        except Exception as exc:  # the leases run out by themselves; stopping must not fail
            log.error("relay.release_failed", error=describe(exc))
            return
        if released:
            log.info("relay.leases_released", rows=released)
