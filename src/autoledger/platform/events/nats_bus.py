"""The NATS JetStream bus: one stream per namespace, one durable pull consumer per group.

Subjects are ``<namespace>.events.<type>`` in the stream ``<NAMESPACE>_EVENTS``; the stream's
duplicate window drops a re-published ``Nats-Msg-Id``. Publishing is pipelined: a batch is
written to the one connection in batch order (the order JetStream stores it) and the acks are
awaited together. Consuming runs its own pull loop on one inbox (a pull request sized to the
free slots of the subscriber, re-issued as they free up), so a message reaches the handler as
soon as the broker sends it.
"""

import asyncio
import contextlib
import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
import structlog
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription as NatsSubscription
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import NoStreamResponseError, NotFoundError

from autoledger.kit.settings import Settings
from autoledger.platform.events.bus import Delivery, Handler, KeyBlocked, KeyedDispatcher, Message

log = structlog.get_logger("autoledger.events.nats")

ID_HEADER = "Nats-Msg-Id"
KEY_HEADER = "Autoledger-Key"
TYPE_HEADER = "Autoledger-Type"
_API_PREFIX = "$JS.API"
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9_-]")
_UNSAFE_TOKEN = re.compile(r"[\s*>]|^\.|\.$|\.\.")
_NANOSECONDS = 1_000_000_000
#: most publishes awaiting their ack at once (the client stalls at 4,000, without a timeout)
_ACK_WINDOW = 1_000


def stream_name(namespace: str) -> str:
    return _UNSAFE_NAME.sub("_", namespace).upper() + "_EVENTS"


def consumer_name(group: str) -> str:
    """A valid durable name for ``group``; a hash suffix keeps rewritten names distinct."""
    safe = _UNSAFE_NAME.sub("_", group)
    if safe != group:
        safe += "_" + hashlib.sha256(group.encode()).hexdigest()[:8]
    return safe


class InvalidEventType(ValueError):
    """The event type cannot be a NATS subject suffix (empty tokens, spaces or wildcards)."""


def event_subject(namespace: str, event_type: str) -> str:
    if not event_type or _UNSAFE_TOKEN.search(event_type):
        raise InvalidEventType(event_type)
    return f"{namespace}.events.{event_type}"


@dataclass(slots=True)
class _NatsDelivery:
    message: Message
    attempt: int
    msg: Msg
    received_at: float
    _settled: bool = False

    async def ack(self) -> None:
        if not self._settled:
            self._settled = True
            await self.msg.ack()

    async def nak(self, delay: float) -> None:
        if not self._settled:
            self._settled = True
            await self.msg.nak(delay=max(delay, 0.0))


@dataclass(eq=False)
class _NatsSubscription:
    """A pull loop on one inbox: at most one pull request open, sized to the free slots."""

    nc: NatsClient
    stream: str
    consumer: str
    handler: Handler
    prefetch: int
    ack_wait: float
    pull_expires: float
    types: frozenset[str] | None  # filtered here when the server could not filter
    dispatcher: KeyedDispatcher = field(init=False)
    _held: int = 0  # messages received and not yet finished by the handler
    _owed: int = 0  # messages the open pull request may still bring
    _pull_done: asyncio.Event = field(default_factory=asyncio.Event)
    _slot_freed: asyncio.Event = field(default_factory=asyncio.Event)
    _inbox: str = ""
    _sub: NatsSubscription | None = None
    _task: "asyncio.Task[None] | None" = None
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.dispatcher = KeyedDispatcher(self._run, self.prefetch)

    async def start(self) -> None:
        self._inbox = self.nc.new_inbox()
        self._sub = await self.nc.subscribe(self._inbox, cb=self._received)
        self._task = asyncio.create_task(self._pull(), name=f"nats-bus:{self.consumer}")

    async def _pull(self) -> None:
        request_subject = f"{_API_PREFIX}.CONSUMER.MSG.NEXT.{self.stream}.{self.consumer}"
        expires = int(self.pull_expires * _NANOSECONDS)
        while True:
            free = self.prefetch - self._held
            # Small pulls under load cost a round trip each: wait for half the slots.
            if free < max(1, self.prefetch // 2) and self._held > 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            self._owed = free
            self._pull_done.clear()
            request = json.dumps({"batch": free, "expires": expires}).encode()
            await self.nc.publish(request_subject, request, reply=self._inbox)
            try:
                # The server answers 408 when the request expires; a request lost to a
                # reconnect never answers, so give up on it a little later.
                await asyncio.wait_for(self._pull_done.wait(), self.pull_expires + 1.0)
            except TimeoutError:
                log.warning("bus.nats.pull_unanswered", consumer=self.consumer)

    async def _received(self, msg: Msg) -> None:
        headers = msg.headers or {}
        status = headers.get("Status")
        if status is not None:
            if status not in ("100", "404", "408"):
                # 409: consumer deleted, max waiting exceeded, leadership change.
                log.warning(
                    "bus.nats.pull_status", status=status, description=headers.get("Description")
                )
                await asyncio.sleep(1.0)
            self._pull_done.set()
            return
        self._owed -= 1
        if self._owed <= 0:
            self._pull_done.set()
        event_type = headers.get(TYPE_HEADER, "")
        if self.types is not None and event_type not in self.types:
            await msg.ack()
            return
        message = Message(
            id=headers.get(ID_HEADER, ""),
            key=headers.get(KEY_HEADER, ""),
            type=event_type,
            body=msg.data,
        )
        delivery = _NatsDelivery(
            message, msg.metadata.num_delivered, msg, asyncio.get_running_loop().time()
        )
        self._held += 1
        await self.dispatcher.submit(delivery)

    async def _run(self, delivery: Delivery) -> None:
        try:
            if not isinstance(delivery, _NatsDelivery):
                raise TypeError(type(delivery).__name__)
            waited = asyncio.get_running_loop().time() - delivery.received_at
            if waited > self.ack_wait / 4:
                # JetStream's ack timer started at delivery; restart it now that the
                # handler starts, as it would if the message had not waited for its key.
                await delivery.msg.in_progress()
            await self.handler(delivery)
        finally:
            self._held -= 1
            self._slot_freed.set()

    async def stop(self) -> None:
        """Stop pulling and wait for the handlers in flight.

        A pull request still open on the server may send messages after the inbox is gone;
        JetStream redelivers those after ``ack_wait``.
        """
        if not self._stopped:
            self._stopped = True
            if self._task is not None:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            if self._sub is not None and not self.nc.is_closed:
                await self._sub.unsubscribe()
        await self.dispatcher.drain()


class NatsBus:
    name = "nats"

    def __init__(
        self,
        *,
        url: str = "nats://127.0.0.1:4222",
        namespace: str = "autoledger",
        dedup_window: float = 120.0,
        publish_timeout: float = 10.0,
        pull_expires: float = 5.0,
    ) -> None:
        self.url = url
        self.namespace = namespace
        self.stream = stream_name(namespace)
        self.dedup_window = dedup_window
        self.publish_timeout = publish_timeout
        self.pull_expires = pull_expires
        self._nc: NatsClient | None = None
        self._js: JetStreamContext | None = None
        self._stream_ready = False
        self._stream_lock = asyncio.Lock()
        self._subscriptions: list[_NatsSubscription] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> "NatsBus":
        return cls(
            url=settings.nats_url,
            namespace=settings.bus_namespace,
            dedup_window=settings.nats_dedup_window_seconds,
        )

    async def connect(self) -> None:
        if self._nc is None:
            self._nc = await nats.connect(self.url, name=f"autoledger-{self.namespace}")
            self._js = self._nc.jetstream()

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        if self._nc is not None:
            await self._nc.close()
        self._nc = None
        self._js = None
        self._stream_ready = False

    def _context(self) -> tuple[NatsClient, JetStreamContext]:
        if self._nc is None or self._js is None:
            raise RuntimeError("NatsBus.connect() was not called")
        return self._nc, self._js

    async def _ensure_stream(self) -> None:
        """Create the stream, or align its duplicate window; safe to race with other processes."""
        if self._stream_ready:
            return
        _, js = self._context()
        async with self._stream_lock:
            if self._stream_ready:
                return
            config = StreamConfig(
                name=self.stream,
                subjects=[f"{self.namespace}.events.>"],
                storage=StorageType.FILE,
                duplicate_window=self.dedup_window,
            )
            try:
                info = await js.stream_info(self.stream)
            except NotFoundError:
                await js.add_stream(config)
            else:
                if info.config.duplicate_window != self.dedup_window:
                    await js.update_stream(config)
            self._stream_ready = True

    async def delete_namespace(self) -> None:
        """Delete the stream with its consumers (teardown of a namespace, e.g. after a test)."""
        _, js = self._context()
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(self.stream)
        self._stream_ready = False

    async def publish(self, messages: Sequence[Message]) -> list[BaseException | None]:
        await self._ensure_stream()
        _, js = self._context()
        results: list[BaseException | None] = [None] * len(messages)
        blocked: set[str] = set()  # keys with a message that was not stored
        # At most _ACK_WINDOW acks outstanding: the client stalls, without a timeout, once
        # 4,000 are (an outbox bundle alone is 5,000 messages), and a broker that lost them
        # would hold the relay for ever. A key blocked in one window stays blocked after.
        for start in range(0, len(messages), _ACK_WINDOW):
            await self._publish_window(
                js,
                messages,
                range(start, min(start + _ACK_WINDOW, len(messages))),
                results,
                blocked,
            )
        return results

    async def _publish_window(
        self,
        js: JetStreamContext,
        messages: Sequence[Message],
        window: range,
        results: list[BaseException | None],
        blocked: set[str],
    ) -> None:
        sent: list[tuple[int, asyncio.Future[Any]]] = []
        # Written in batch order on one connection, so JetStream stores a key's messages in
        # batch order; a message that cannot be written blocks its key before later ones go.
        for index in window:
            message = messages[index]
            if message.key in blocked:
                results[index] = KeyBlocked(message.key)
                continue
            headers = {ID_HEADER: message.id, KEY_HEADER: message.key, TYPE_HEADER: message.type}
            try:
                future = await js.publish_async(
                    event_subject(self.namespace, message.type),
                    message.body,
                    # No stall timeout (asyncio.wait_for costs a task per message): the
                    # window keeps the pending acks under the client's 4,000.
                    stream=self.stream,
                    headers=headers,
                )
            except Exception as exc:
                results[index] = exc
                blocked.add(message.key)
                continue
            sent.append((index, future))
        if sent:
            _, late = await asyncio.wait([f for _, f in sent], timeout=self.publish_timeout)
            for future in late:
                future.cancel()
        failed: set[str] = set()
        for index, future in sent:
            key = messages[index].key
            error: BaseException | None
            if future.cancelled():
                error = TimeoutError(f"no JetStream ack within {self.publish_timeout}s")
            else:
                error = future.exception()
            if key in failed:
                if error is None:
                    # The broker refused an earlier message of this key and stored this one:
                    # reported blocked, so the relay retries both, but the key is out of
                    # order on the stream. Only individual refusals cause it (the stream
                    # has no limits that refuse); a timeout usually means stored.
                    log.warning("bus.nats.key_overtaken", key=key, message_id=messages[index].id)
                results[index] = KeyBlocked(key)
            elif error is not None:
                failed.add(key)
                results[index] = error
                if isinstance(error, NoStreamResponseError):
                    self._stream_ready = False
        blocked |= failed

    async def subscribe(
        self,
        group: str,
        handler: Handler,
        *,
        types: Sequence[str] | None = None,
        prefetch: int = 64,
        ack_wait: float = 30.0,
        max_deliver: int = 100,
    ) -> _NatsSubscription:
        await self._ensure_stream()
        nc, js = self._context()
        name = consumer_name(group)
        config = ConsumerConfig(
            durable_name=name,
            name=name,
            deliver_policy=DeliverPolicy.ALL,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=ack_wait,
            max_deliver=max_deliver,
            # Shared by every subscriber of the group, each holding up to its prefetch.
            max_ack_pending=max(prefetch * 4, 1000),
        )
        client_filter: frozenset[str] | None = None
        if types is not None:
            subjects = sorted({event_subject(self.namespace, t) for t in types})
            version = nc.connected_server_version
            if len(subjects) == 1:
                config.filter_subject = subjects[0]
            elif (version.major, version.minor) >= (2, 10):
                config.filter_subjects = subjects
            else:
                # nats-server < 2.10 has one filter subject per consumer (and would ignore
                # filter_subjects): take every type and ack the others here.
                client_filter = frozenset(types)
        await js.add_consumer(self.stream, config)
        subscription = _NatsSubscription(
            nc=nc,
            stream=self.stream,
            consumer=name,
            handler=handler,
            prefetch=prefetch,
            ack_wait=ack_wait,
            pull_expires=self.pull_expires,
            types=client_filter,
        )
        await subscription.start()
        self._subscriptions.append(subscription)
        return subscription
