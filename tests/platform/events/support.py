"""Test doubles for the event backbone: a recording bus wrapper and a consumer that writes a
real effect (an outbox row of its own type) in the framework's transaction."""

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Bus, Handler, Message, Subscription
from autoledger.platform.events.consumers import Consumer
from autoledger.platform.events.envelope import Event, make_event
from autoledger.platform.events.tables import OutboxRecord

EFFECT = "test.effect.v1"


@dataclass
class RecordingBus:
    """Wraps a bus; records every publish call's messages, optionally fails chosen keys."""

    inner: Bus
    published: list[Message] = field(default_factory=list)
    fail_keys: set[str] = field(default_factory=set)
    name: str = "recording"

    async def connect(self) -> None:
        await self.inner.connect()

    async def close(self) -> None:
        await self.inner.close()

    async def publish(self, messages: Sequence[Message]) -> list[BaseException | None]:
        passing = [m for m in messages if m.key not in self.fail_keys]
        results = iter(await self.inner.publish(passing))
        out: list[BaseException | None] = []
        for m in messages:
            if m.key in self.fail_keys:
                out.append(ConnectionError(f"broker refused {m.key}"))
            else:
                result = next(results)
                out.append(result)
                if result is None:
                    self.published.append(m)
        return out

    async def subscribe(
        self,
        group: str,
        handler: Handler,
        *,
        types: Sequence[str] | None = None,
        prefetch: int = 64,
        ack_wait: float = 30.0,
        max_deliver: int = 100,
    ) -> Subscription:
        return await self.inner.subscribe(
            group,
            handler,
            types=types,
            prefetch=prefetch,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
        )


@dataclass
class Effects:
    """A consumer whose effect is an outbox row (same transaction as its inbox row)."""

    name: str = "test.effects"
    fail: Callable[[Event, int], bool] = lambda _event, _calls: False
    calls: dict[uuid.UUID, int] = field(default_factory=lambda: defaultdict(int))
    order: dict[str, list[uuid.UUID]] = field(default_factory=lambda: defaultdict(list))
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    types: frozenset[str] | None = frozenset({"test.ping.v1"})

    def consumer(self) -> Consumer:
        return Consumer(self.name, self.handle, self.types)

    async def handle(self, session: AsyncSession, event: Event) -> None:
        self.calls[event.id] += 1
        # the effect first, then maybe fail: a failure must roll the effect back
        await outbox.append(
            session,
            [
                make_event(
                    event_type=EFFECT,
                    tenant_id=event.tenant,
                    subject=f"effects/{event.id}",
                    data=_Effect(of=event.id),
                    ordering_key=f"effects/{self.name}",
                )
            ],
        )
        if self.fail(event, self.calls[event.id]):
            raise RuntimeError(f"handler failed on call {self.calls[event.id]}")
        self.order[event.partitionkey].append(event.id)
        self.seen.set()


class _Effect(BaseModel):
    of: uuid.UUID


async def effect_count(sm: async_sessionmaker[AsyncSession]) -> dict[str, int]:
    """Effects per source event id (as text)."""
    async with sm() as session:
        rows = (
            (await session.execute(select(OutboxRecord.body).where(OutboxRecord.type == EFFECT)))
            .scalars()
            .all()
        )
    counts: dict[str, int] = defaultdict(int)
    for body in rows:
        counts[str(Event.from_json(body).data["of"])] += 1
    return counts


async def unsent(sm: async_sessionmaker[AsyncSession]) -> int:
    async with sm() as session:
        return int(
            await session.scalar(
                select(func.count()).where(
                    OutboxRecord.published_at.is_(None), OutboxRecord.type != EFFECT
                )
            )
            or 0
        )


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def ping_event(tenant_id: uuid.UUID, key: str, n: int) -> Event:
    return make_event(
        event_type="test.ping.v1",
        tenant_id=tenant_id,
        subject=f"pings/{n}",
        data=_Ping(n=n),
        ordering_key=key,
    )


class _Ping(BaseModel):
    n: int
