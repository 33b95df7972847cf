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
from autoledger.platform.events.bus import Bus, KeyBlocked, Message

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

    async def _claim(self) -> list[outbox.Claimed]:
        async with self.sessionmaker() as session:
            return await outbox.claim(session, self.owner, self.batch_size, self.lease_seconds)

    async def _publish(
        self, claimed: list[outbox.Claimed], held_keys: set[str]
    ) -> list[BaseException | None]:
        """Publish ``claimed``, except rows of ``held_keys`` (an earlier row of their key just
        failed: publishing these would overtake it). A bundle is expanded first; it counts as
        published when the broker took every one of its events. A bundle that cannot be
        expanded fails, and holds its key like a failed publish."""
        results: list[BaseException | None] = [
            KeyBlocked(c.ordering_key) if c.ordering_key in held_keys else None for c in claimed
        ]
        unheld = [i for i, c in enumerate(claimed) if c.ordering_key not in held_keys]
        if not unheld:
            return results
        messages: list[Message] = []
        owners: list[int] = []  # the claimed row of each message
        failed_keys: set[str] = set()
        bundles = [i for i in unheld if claimed[i].expander is not None]
        expanded: dict[int, list[tuple[str, bytes]]] = {}
        if bundles:
            async with self.sessionmaker() as session:
                for i in bundles:
                    try:
                        expanded[i] = await outbox.expand(session, claimed[i])
                    except Exception as exc:  # the row is given back with why
                        results[i] = exc
                        await session.rollback()  # the next bundle reads in a clean transaction
                        continue
                    if len(expanded[i]) != claimed[i].weight:
                        # the producer's rows do not say what the bundle promised: publish
                        # none of it, hold the key and say so (lag shows it until mended)
                        results[i] = outbox.BundleMismatch(
                            f"bundle {claimed[i].dedup_id} ({claimed[i].expander}) stands for"
                            f" {claimed[i].weight} events, its rows gave {len(expanded[i])}"
                        )
                        log.error("relay.bundle_mismatch", error=str(results[i]))
        for i in unheld:
            row = claimed[i]
            if row.ordering_key in failed_keys or results[i] is not None:
                failed_keys.add(row.ordering_key)
                results[i] = results[i] or KeyBlocked(row.ordering_key)
                continue
            for dedup_id, body in expanded.get(i, [(row.dedup_id, row.body)]):
                messages.append(Message(dedup_id, row.ordering_key, row.type, body))
                owners.append(i)
        if not messages:
            return results
        try:
            published = await self.bus.publish(messages)
        except Exception as exc:  # the whole batch failed (broker unreachable, ...)
            published = [exc] * len(messages)
        for i, result in zip(owners, published, strict=True):
            if results[i] is None:
                results[i] = result
        return results

    async def _settle(
        self, claimed: list[outbox.Claimed], results: list[BaseException | None]
    ) -> int:
        """Mark what the broker took as sent, give the rest back after a growing delay."""
        sent = [c.seq for c, r in zip(claimed, results, strict=True) if r is None]
        events = sum(c.weight for c, r in zip(claimed, results, strict=True) if r is None)
        failed = [
            (c.seq, f"{type(r).__name__}: {r}")
            for c, r in zip(claimed, results, strict=True)
            if r is not None
        ]
        self.failures = self.failures + 1 if failed else 0
        async with self.sessionmaker() as session, session.begin():
            await outbox.mark_sent(session, self.owner, sent)
            if failed:
                await outbox.release(session, self.owner, failed, retry_in=self._retry_in())
        if failed:
            log.warning(
                "relay.publish_failed", failed=len(failed), sent=len(sent), error=failed[0][1]
            )
        self.published += events
        if self.on_published is not None and events:
            self.on_published(events)
        return events

    def _retry_in(self) -> float:
        return min(0.25 * 2.0**self.failures, 10.0)

    async def run_once(self) -> int:
        """One claim → publish → mark round; the number of events the broker accepted."""
        claimed = await self._claim()
        if not claimed:
            return 0
        self._holding = True
        sent = await self._settle(claimed, await self._publish(claimed, set()))
        self._holding = False
        return sent

    def wake(self) -> None:
        """New rows were committed: skip the idle wait."""
        self._wake.set()

    async def _pipeline(self) -> bool:
        """Rounds back to back while there is work: the next batch is claimed while this one
        is published, and this one is marked while the next is published. Publishing stays
        strictly in claim order. False when the outbox is drained."""
        claimed = await self._claim()
        if not claimed:
            return False
        self._holding = True
        settling: asyncio.Task[int] | None = None
        try:
            while claimed:
                next_claim = asyncio.create_task(self._claim())
                try:
                    results = await self._publish(claimed, set())
                    held = {c.ordering_key for c, r in zip(claimed, results, strict=True) if r}
                    if settling is not None:
                        await settling
                    settling = asyncio.create_task(self._settle(claimed, results))
                    claimed = await next_claim
                except BaseException:
                    next_claim.cancel()
                    raise
                if held and claimed:  # the prefetched batch must not overtake a failed row
                    await settling
                    settling = None
                    await self._settle(claimed, await self._publish(claimed, held))
                    claimed = []
                if self._stopping and claimed:
                    await self._settle(claimed, await self._publish(claimed, set()))
                    claimed = []
            if settling is not None:
                await settling
        finally:
            if settling is not None and not settling.done():
                with contextlib.suppress(Exception):  # let a mark in flight land
                    await settling
        self._holding = False
        return True

    async def _loop(self) -> None:
        backoff = 0.0
        while not self._stopping:
            worked = False
            try:
                worked = await self._pipeline()
                backoff = 0.0
            except Exception as exc:  # database or bus down: retry with backoff
                backoff = min(max(backoff * 2, 0.5), 10.0)
                log.error("relay.round_failed", retry_in=backoff, error=describe(exc))
            if self._stopping or (worked and not self.failures):
                continue
            self._wake.clear()
            wait = backoff or (self.idle_seconds if not self.failures else self._retry_in())
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
