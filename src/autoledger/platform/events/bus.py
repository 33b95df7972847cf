"""The bus interface every adapter implements (in-process, NATS JetStream, Google Pub/Sub).

Kept small on purpose; ``tests/platform/events/test_bus_contract.py`` is the contract that
all adapters pass against the real brokers.

Publishing: :meth:`Bus.publish` takes a batch and reports one result per message (``None`` on
success, the exception otherwise). Messages sharing an ordering key are accepted in batch
order; after a message fails, later ones with the same key are not attempted (they report
:class:`KeyBlocked`), so a key never gets ahead of itself. ``Message.id`` is the broker's
deduplication id: publishing the same id again within the broker's window is a no-op.

Consuming: :meth:`Bus.subscribe` joins a named group (a durable consumer). Groups each see
every message; subscribers of one group share its messages. Delivery is at least once: the
handler acks, or naks with a delay to have the message redelivered after it; a message
neither acked nor nakked within ``ack_wait`` is redelivered. One subscriber hands messages of
one key to its handler one at a time, in order, and different keys concurrently (at most
``prefetch`` in flight). A nakked message does not hold up other keys.
"""

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import structlog

log = structlog.get_logger("autoledger.events.bus")


@dataclass(frozen=True, slots=True)
class Message:
    id: str  # deduplication id: the event id, or a distinct id for a deliberate replay
    key: str  # ordering key (tenant/ledger)
    type: str  # event type, for server-side filtering where the broker supports it
    body: bytes  # the CloudEvents JSON


class Delivery(Protocol):
    @property
    def message(self) -> Message: ...

    @property
    def attempt(self) -> int:
        """1 on first delivery, counted by the broker."""
        ...

    async def ack(self) -> None: ...

    async def nak(self, delay: float) -> None:
        """Have the message redelivered after about ``delay`` seconds."""
        ...


Handler = Callable[[Delivery], Awaitable[None]]


class Subscription(Protocol):
    async def stop(self) -> None:
        """Stop taking messages; wait for the handlers in flight to finish."""
        ...


class KeyBlocked(Exception):
    """An earlier message with the same ordering key failed in this batch."""


class Bus(Protocol):
    name: str

    async def connect(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, messages: Sequence[Message]) -> list[BaseException | None]: ...

    async def subscribe(
        self,
        group: str,
        handler: Handler,
        *,
        types: Sequence[str] | None = None,
        prefetch: int = 64,
        ack_wait: float = 30.0,
        max_deliver: int = 100,
    ) -> Subscription: ...


@dataclass
class KeyedDispatcher:
    """Runs deliveries one key at a time, in arrival order, many keys at once.

    Adapters feed it what they fetch; ``prefetch`` bounds deliveries held (running or waiting
    for their key), so :meth:`submit` waits when the subscriber is full: backpressure on the
    broker instead of unbounded memory.
    """

    handler: Handler
    prefetch: int
    _slots: asyncio.Semaphore = field(init=False)
    # One queue and one worker task per key with deliveries held (not a task per delivery:
    # at thousands of deliveries a second the per-message task and wait were the cost).
    _queues: dict[str, deque[Delivery]] = field(init=False, default_factory=dict)
    _tasks: set["asyncio.Task[None]"] = field(init=False, default_factory=set)
    _held: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.prefetch)

    @property
    def in_flight(self) -> int:
        """Deliveries held: running, or waiting behind an earlier one of their key."""
        return self._held

    async def submit(self, delivery: Delivery) -> None:
        await self.reserve()
        self.start(delivery)

    async def reserve(self) -> None:
        """Wait for a free slot; pair with :meth:`start` (or :meth:`unreserve`). Adapters that
        must not hold a message while waiting take the slot first, then the message."""
        await self._slots.acquire()

    def unreserve(self) -> None:
        self._slots.release()

    def start(self, delivery: Delivery) -> None:
        """Run ``delivery`` in a reserved slot, after earlier deliveries of its key."""
        self._held += 1
        key = delivery.message.key
        queue = self._queues.get(key)
        if queue is not None:
            queue.append(delivery)
            return
        queue = self._queues[key] = deque([delivery])
        task = asyncio.create_task(self._work(key, queue))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, key: str, queue: deque[Delivery]) -> None:
        try:
            while queue:
                delivery = queue[0]
                try:
                    await self.handler(delivery)
                except Exception:
                    # Handlers own their errors (the consumer framework naks or
                    # dead-letters); an escaped exception is a bug, and the broker
                    # redelivers after ack_wait.
                    log.exception("bus.handler_crashed", message_id=delivery.message.id)
                finally:
                    queue.popleft()
                    self._held -= 1
                    self._slots.release()
        finally:
            # Emptied (no await since, so nothing slipped in) or cancelled: either way the
            # key is free again, and what was left is dropped unacked for the broker to
            # redeliver.
            if self._queues.get(key) is queue:
                del self._queues[key]
            self._held -= len(queue)
            for _ in queue:
                self._slots.release()

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))
