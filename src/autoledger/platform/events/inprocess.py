"""The embedded bus: groups are in-memory queues inside this process.

Durability comes from the outbox, not from this bus: an event is marked sent once a group
queue holds it, and a process that dies loses only queued deliveries whose effects were
never committed — the relay of the next start re-publishes nothing (the rows are sent), so
the embedded deployment runs relay and consumers in the same process as the API and takes
the outbox as the log (see ADR 0005). Queues are bounded: a full group refuses the message
and the relay tries again later.
"""

import asyncio
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

from autoledger.kit.errors import Unavailable
from autoledger.platform.events.bus import (
    Delivery,
    Handler,
    KeyBlocked,
    KeyedDispatcher,
    Message,
)


class GroupFull(Unavailable):
    code = "events.group_full"
    title = "Consumer group queue full"


@dataclass(slots=True)
class _Delivery:
    message: Message
    attempt: int
    _group: "_Group"
    _settled: bool = False
    _timer: asyncio.TimerHandle | None = None

    async def ack(self) -> None:
        self._settle()

    async def nak(self, delay: float) -> None:
        if self._settle():
            self._group.redeliver(self, max(delay, 0.0))

    def _settle(self) -> bool:
        if self._settled:
            return False
        self._settled = True
        if self._timer is not None:
            self._timer.cancel()
        return True


@dataclass
class _Group:
    name: str
    types: frozenset[str] | None
    capacity: int
    ack_wait: float
    max_deliver: int
    queue: "asyncio.Queue[_Delivery]" = field(default_factory=asyncio.Queue)
    dropped: int = 0

    def offer(self, message: Message) -> bool:
        if self.types is not None and message.type not in self.types:
            return True
        if self.queue.qsize() >= self.capacity:
            return False
        self.queue.put_nowait(_Delivery(message, 1, self))
        return True

    def started(self, delivery: _Delivery) -> None:
        loop = asyncio.get_running_loop()
        delivery._timer = loop.call_later(self.ack_wait, self._expired, delivery)

    def _expired(self, delivery: _Delivery) -> None:
        if delivery._settle():
            self.redeliver(delivery, 0.0)

    def redeliver(self, delivery: _Delivery, delay: float) -> None:
        if delivery.attempt >= self.max_deliver:
            self.dropped += 1
            return
        again = _Delivery(delivery.message, delivery.attempt + 1, self)
        asyncio.get_running_loop().call_later(delay, self.queue.put_nowait, again)


@dataclass
class _Subscription:
    group: _Group
    dispatcher: KeyedDispatcher
    task: "asyncio.Task[None] | None" = None

    async def pump(self) -> None:
        # Slot first, then the message: a stop() that cancels the wait loses nothing.
        while True:
            await self.dispatcher.reserve()
            try:
                delivery = await self.group.queue.get()
            except BaseException:
                self.dispatcher.unreserve()
                raise
            self.dispatcher.start(_Started(delivery))

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
            self.task = None
        await self.dispatcher.drain()


@dataclass(slots=True)
class _Started:
    """Arms the ack-wait timer when the handler really starts, not while queued by key."""

    delivery: _Delivery

    @property
    def message(self) -> Message:
        return self.delivery.message

    @property
    def attempt(self) -> int:
        return self.delivery.attempt

    async def ack(self) -> None:
        await self.delivery.ack()

    async def nak(self, delay: float) -> None:
        await self.delivery.nak(delay)


class InProcessBus:
    name = "inprocess"

    def __init__(self, *, group_capacity: int = 50_000, dedup_window: float = 120.0) -> None:
        self.group_capacity = group_capacity
        self.dedup_window = dedup_window
        self._groups: dict[str, _Group] = {}
        self._subscriptions: list[_Subscription] = []
        self._seen: OrderedDict[str, float] = OrderedDict()

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()

    def _duplicate(self, message_id: str, now: float) -> bool:
        while self._seen:
            oldest, at = next(iter(self._seen.items()))
            if now - at <= self.dedup_window:
                break
            del self._seen[oldest]
        if message_id in self._seen:
            return True
        self._seen[message_id] = now
        return False

    async def publish(self, messages: Sequence[Message]) -> list[BaseException | None]:
        results: list[BaseException | None] = []
        blocked: set[str] = set()
        now = time.monotonic()
        for message in messages:
            if message.key in blocked:
                results.append(KeyBlocked(message.key))
                continue
            full = [g for g in self._groups.values() if g.queue.qsize() >= g.capacity]
            if full:
                blocked.add(message.key)
                results.append(GroupFull(f"consumer group {full[0].name!r} is full"))
                continue
            if not self._duplicate(message.id, now):
                for group in self._groups.values():
                    group.offer(message)
            results.append(None)
        return results

    async def subscribe(
        self,
        group: str,
        handler: Handler,
        *,
        types: Sequence[str] | None = None,
        prefetch: int = 64,
        ack_wait: float = 30.0,
        max_deliver: int = 100,
    ) -> _Subscription:
        state = self._groups.get(group)
        if state is None:
            state = _Group(
                group,
                None if types is None else frozenset(types),
                self.group_capacity,
                ack_wait,
                max_deliver,
            )
            self._groups[group] = state

        async def start_then_handle(delivery: Delivery) -> None:
            if isinstance(delivery, _Started):
                state.started(delivery.delivery)
            await handler(delivery)

        subscription = _Subscription(state, KeyedDispatcher(start_then_handle, prefetch))
        subscription.task = asyncio.create_task(subscription.pump(), name=f"bus:{group}")
        self._subscriptions.append(subscription)
        return subscription
