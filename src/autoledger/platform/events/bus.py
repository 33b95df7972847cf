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
    _chains: dict[str, "asyncio.Task[None]"] = field(init=False, default_factory=dict)
    _tasks: set["asyncio.Task[None]"] = field(init=False, default_factory=set)

    def __post_init__(self) -> None:
        self._slots = asyncio.Semaphore(self.prefetch)

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def submit(self, delivery: Delivery) -> None:
        await self.reserve()
        self.start(delivery)

    async def reserve(self) -> None:
        """Wait for a free slot; pair with :meth:`start` (or :meth:`unreserve`). Adapters that
        must not hold a message while waiting take the slot first, then the message."""
        await self._slots.acquire()

    def unreserve(self) -> None:
        self._slots.release()

    @property
    def free(self) -> int:
        return self.prefetch - len(self._tasks)

    def start(self, delivery: Delivery) -> None:
        """Run ``delivery`` in a reserved slot, after earlier deliveries of its key."""
        key = delivery.message.key
        previous = self._chains.get(key)
        task = asyncio.create_task(self._run(previous, delivery))
        self._chains[key] = task
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(key, t))

    def _done(self, key: str, task: "asyncio.Task[None]") -> None:
        self._tasks.discard(task)
        self._slots.release()
        if self._chains.get(key) is task:
            del self._chains[key]

    async def _run(self, previous: "asyncio.Task[None] | None", delivery: Delivery) -> None:
        if previous is not None:
            await asyncio.wait([previous])
        try:
            await self.handler(delivery)
        except Exception:
            # Handlers own their errors (the consumer framework naks or dead-letters); an
            # escaped exception is a bug, and the broker redelivers after ack_wait.
            log.exception("bus.handler_crashed", message_id=delivery.message.id)

    async def drain(self) -> None:
        while self._tasks:
            await asyncio.wait(set(self._tasks))
