"""The Google Pub/Sub bus: one topic per namespace, one subscription per group.

Messages carry the ordering key and the attributes ``type`` and ``dedup_id``. Pub/Sub has no
broker-side deduplication by id: a message published twice is delivered twice. Consumers'
inboxes make that harmless; a subscriber also skips a ``dedup_id`` it acked recently (cheap,
per subscriber, within memory), which catches the common case of a relay re-publishing a batch.

The google client is blocking and calls back on its own threads: admin calls and publishing run
in worker threads, callbacks hop onto the event loop with ``call_soon_threadsafe``, and the
client's futures are awaited through ``asyncio.wrap_future``. Acks and nacks only enqueue a
request for the client's dispatcher thread, so they are safe to call from the loop.

The client leases every message it hands out until it is acked or nacked, and holds later
messages of an ordering key until then. ``ack_wait`` is therefore kept here: a message whose
handler neither acks nor naks within ``ack_wait`` of starting is nacked, so it is redelivered
(Pub/Sub's own ack deadline is 10 s at least and the lease would extend it anyway).

Subscriptions are created without exactly-once delivery: the consumers' inbox already makes
delivery effectively exactly once, and with it on, the client's lease renewals (modacks of every
leased ack id, taken from a snapshot) race the acks. On the emulator one already-acked id fails
the whole modack request, so none of the other leases in it is extended and they expire too.
Past ~100 failed ids the error detail no longer fits in gRPC's trailer limit. The client
then gets RESOURCE_EXHAUSTED with a status detail saying INVALID_ARGUMENT. The resulting
``ValueError`` kills its lease thread and delivery stalls. Without exactly-once, acks and
modacks are best effort, as at-least-once delivery expects.
"""

import asyncio
import contextlib
import hashlib
import os
import re
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

# Not "from google.cloud import pubsub_v1": with a typed google.cloud package installed (kms),
# mypy then looks the untyped pubsub_v1 up as an attribute and fails.
import google.cloud.pubsub_v1 as pubsub_v1
import structlog
from google.api_core import exceptions as google_errors
from google.cloud.pubsub_v1.subscriber._protocol import dispatcher as client_dispatcher
from google.cloud.pubsub_v1.subscriber.message import Message as PubSubMessage

from autoledger.kit.settings import Settings
from autoledger.platform.events.bus import Delivery, Handler, KeyBlocked, KeyedDispatcher, Message

log = structlog.get_logger("autoledger.events.pubsub")

TYPE_ATTRIBUTE = "type"
DEDUP_ATTRIBUTE = "dedup_id"
MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS = 5, 100  # Pub/Sub's dead-letter policy limits
MIN_ACK_DEADLINE, MAX_ACK_DEADLINE = 10, 600
_UNSAFE_ID = re.compile(r"[^A-Za-z0-9_.~+%-]")
_ADMIN_TIMEOUT = 30.0
# How long the client's dispatcher waits to batch acks (10 ms by default). With message
# ordering the client hands out a key's next message only once the previous ack has been
# sent, so this wait bounds each key to ~80 messages/s; 1 ms allows ~4x that.
ACK_BATCH_LATENCY = 0.001


def subscription_id(namespace: str, group: str) -> str:
    """``<namespace>-<group>``; a hash suffix keeps rewritten group names distinct."""
    safe = _UNSAFE_ID.sub("_", group)
    if safe != group:
        safe += "_" + hashlib.sha256(group.encode()).hexdigest()[:8]
    return f"{namespace}-{safe}"


def type_filter(types: Sequence[str]) -> str:
    return " OR ".join(f'attributes.{TYPE_ATTRIBUTE} = "{t}"' for t in sorted(set(types)))


def _clamp(value: float, low: int, high: int) -> int:
    return int(min(max(round(value), low), high))


@dataclass(slots=True)
class _PubSubDelivery:
    message: Message
    attempt: int
    received: PubSubMessage
    on_settled: "_PubSubSubscription"
    _settled: bool = False
    _timer: asyncio.TimerHandle | None = None

    async def ack(self) -> None:
        if self._settle():
            self.received.ack()
            self.on_settled.acked(self.message.id)

    async def nak(self, delay: float) -> None:
        if self._settle():
            if delay < 0.5:
                self.received.nack()
            else:
                # Drop the lease first, or the client keeps extending the deadline.
                self.received.drop()
                self.received.modify_ack_deadline(_clamp(delay, 1, MAX_ACK_DEADLINE))

    def expire(self) -> None:
        if self._settle():
            log.warning("bus.pubsub.ack_wait_expired", message_id=self.message.id)
            self.received.nack()

    def _settle(self) -> bool:
        if self._settled:
            return False
        self._settled = True
        if self._timer is not None:
            self._timer.cancel()
        return True


@dataclass(eq=False)
class _PubSubSubscription:
    subscriber: pubsub_v1.SubscriberClient
    path: str
    handler: Handler
    prefetch: int
    ack_wait: float
    types: frozenset[str] | None
    loop: asyncio.AbstractEventLoop
    recent_capacity: int = 10_000
    dispatcher: KeyedDispatcher = field(init=False)
    _arrivals: "asyncio.Queue[PubSubMessage]" = field(default_factory=asyncio.Queue)
    _recently_acked: OrderedDict[str, None] = field(default_factory=OrderedDict)
    _pull: Any = None  # the client's StreamingPullFuture
    _pump: "asyncio.Task[None] | None" = None
    _stopped: bool = False

    def __post_init__(self) -> None:
        self.dispatcher = KeyedDispatcher(self._run, self.prefetch)

    def start(self) -> None:
        flow_control = pubsub_v1.types.FlowControl(max_messages=self.prefetch)
        self._pump = asyncio.create_task(self._feed(), name=f"pubsub-bus:{self.path}")
        self._pull = self.subscriber.subscribe(
            self.path, self._on_message, flow_control=flow_control
        )

    def _on_message(self, received: PubSubMessage) -> None:
        """Runs on a client thread: hand the message to the loop and return at once."""
        try:
            self.loop.call_soon_threadsafe(self._arrivals.put_nowait, received)
        except RuntimeError:  # the loop is closed
            received.nack()

    async def _feed(self) -> None:
        while True:
            received = await self._arrivals.get()
            if self._stopped:
                received.nack()
                continue
            attributes = received.attributes
            event_type = attributes.get(TYPE_ATTRIBUTE, "")
            if self.types is not None and event_type not in self.types:
                # The emulator ignores subscription filters; Pub/Sub applies them.
                received.ack()
                continue
            message = Message(
                id=attributes.get(DEDUP_ATTRIBUTE, received.message_id),
                key=received.ordering_key,
                type=event_type,
                body=received.data,
            )
            attempt = received.delivery_attempt or 1
            await self.dispatcher.submit(_PubSubDelivery(message, attempt, received, self))

    async def _run(self, delivery: Delivery) -> None:
        if not isinstance(delivery, _PubSubDelivery):
            raise TypeError(type(delivery).__name__)
        if delivery.message.id in self._recently_acked:
            # A second copy of a message this subscriber already handled (published twice).
            await delivery.ack()
            return
        delivery._timer = self.loop.call_later(self.ack_wait, delivery.expire)
        await self.handler(delivery)

    def acked(self, dedup_id: str) -> None:
        self._recently_acked[dedup_id] = None
        self._recently_acked.move_to_end(dedup_id)
        while len(self._recently_acked) > self.recent_capacity:
            self._recently_acked.popitem(last=False)

    async def stop(self) -> None:
        """Nack what arrives from now on, let the handlers in flight finish, then stop pulling.

        Handlers finish while the client still runs, so their acks reach the broker.
        """
        if not self._stopped:
            self._stopped = True
            await self.dispatcher.drain()
            if self._pull is not None:
                await asyncio.to_thread(self._shutdown_pull)
            if self._pump is not None:
                self._pump.cancel()
                await asyncio.gather(self._pump, return_exceptions=True)
            while not self._arrivals.empty():
                self._arrivals.get_nowait().nack()
        await self.dispatcher.drain()

    def _shutdown_pull(self) -> None:
        self._pull.cancel()
        # A cancelled stream may end with an error; either way it has stopped.
        with contextlib.suppress(Exception):
            self._pull.result(timeout=_ADMIN_TIMEOUT)


class PubSubBus:
    name = "pubsub"

    def __init__(
        self,
        *,
        project: str,
        namespace: str = "autoledger",
        emulator_host: str | None = None,
        publish_timeout: float = 30.0,
    ) -> None:
        self.project = project
        self.namespace = namespace
        self.emulator_host = emulator_host
        self.publish_timeout = publish_timeout
        self.topic = f"projects/{project}/topics/{namespace}-events"
        self._publisher: pubsub_v1.PublisherClient | None = None
        self._subscriber: pubsub_v1.SubscriberClient | None = None
        self._topic_ready = False
        self._topic_lock = asyncio.Lock()
        self._dead_topics: set[str] = set()
        self._subscriptions: list[_PubSubSubscription] = []

    @classmethod
    def from_settings(cls, settings: Settings) -> "PubSubBus":
        return cls(
            project=settings.pubsub_project,
            namespace=settings.bus_namespace,
            emulator_host=settings.pubsub_emulator_host,
        )

    async def connect(self) -> None:
        if self._publisher is not None:
            return
        if self.emulator_host:
            # The google clients only learn of an emulator from this variable.
            os.environ["PUBSUB_EMULATOR_HOST"] = self.emulator_host
        if hasattr(client_dispatcher, "_MAX_BATCH_LATENCY"):
            # Private and process-wide (read when a subscription's dispatcher starts); if a
            # client release drops it, only per-key throughput suffers.
            client_dispatcher._MAX_BATCH_LATENCY = ACK_BATCH_LATENCY
        options = pubsub_v1.types.PublisherOptions(enable_message_ordering=True)
        self._publisher = pubsub_v1.PublisherClient(publisher_options=options)
        self._subscriber = pubsub_v1.SubscriberClient()

    async def close(self) -> None:
        for subscription in self._subscriptions:
            await subscription.stop()
        self._subscriptions.clear()
        if self._publisher is not None:
            await asyncio.to_thread(self._publisher.stop)
        if self._subscriber is not None:
            await asyncio.to_thread(self._subscriber.close)
        self._publisher = None
        self._subscriber = None
        self._topic_ready = False

    def _clients(self) -> tuple[pubsub_v1.PublisherClient, pubsub_v1.SubscriberClient]:
        if self._publisher is None or self._subscriber is None:
            raise RuntimeError("PubSubBus.connect() was not called")
        return self._publisher, self._subscriber

    async def _create_topic(self, topic: str) -> None:
        publisher, _ = self._clients()
        with contextlib.suppress(google_errors.AlreadyExists):
            await asyncio.to_thread(publisher.create_topic, name=topic, timeout=_ADMIN_TIMEOUT)

    async def _ensure_topic(self) -> None:
        if self._topic_ready:
            return
        async with self._topic_lock:
            if not self._topic_ready:
                await self._create_topic(self.topic)
                self._topic_ready = True

    async def delete_namespace(self) -> None:
        """Delete the topic, its subscriptions and dead-letter topics (e.g. after a test)."""
        publisher, subscriber = self._clients()

        def delete() -> None:
            try:
                paths = list(publisher.list_topic_subscriptions(topic=self.topic))
            except google_errors.NotFound:
                paths = []
            for path in paths:
                with contextlib.suppress(google_errors.NotFound):
                    subscriber.delete_subscription(subscription=path, timeout=_ADMIN_TIMEOUT)
            # Each subscription ``<id>`` dead-letters to the topic ``<id>-dead``.
            dead = {f"{path.replace('/subscriptions/', '/topics/')}-dead" for path in paths}
            for topic in [self.topic, *dead, *self._dead_topics]:
                with contextlib.suppress(google_errors.NotFound):
                    publisher.delete_topic(topic=topic, timeout=_ADMIN_TIMEOUT)

        await asyncio.to_thread(delete)
        self._dead_topics.clear()
        self._topic_ready = False

    async def publish(self, messages: Sequence[Message]) -> list[BaseException | None]:
        await self._ensure_topic()
        publisher, _ = self._clients()

        def send() -> list[Future[Any] | BaseException]:
            # The client sequences each ordering key; after a failure it pauses the key and
            # refuses its later messages, so a key never gets ahead of itself.
            sent: list[Future[Any] | BaseException] = []
            for message in messages:
                try:
                    sent.append(
                        publisher.publish(
                            self.topic,
                            message.body,
                            ordering_key=message.key,
                            **{TYPE_ATTRIBUTE: message.type, DEDUP_ATTRIBUTE: message.id},
                        )
                    )
                except Exception as exc:
                    sent.append(exc)
            return sent

        sent = await asyncio.to_thread(send)
        waiting = [asyncio.wrap_future(f) for f in sent if isinstance(f, Future)]
        if waiting:
            _, late = await asyncio.wait(waiting, timeout=self.publish_timeout)
            for future in late:
                future.cancel()
        results: list[BaseException | None] = []
        failed: set[str] = set()
        outcomes = iter(waiting)
        for message, outcome in zip(messages, sent, strict=True):
            error: BaseException | None
            if isinstance(outcome, BaseException):
                error = outcome
            else:
                done = next(outcomes)
                if done.cancelled():
                    error = TimeoutError(f"no Pub/Sub ack within {self.publish_timeout}s")
                else:
                    error = done.exception()
            if message.key in failed:
                results.append(KeyBlocked(message.key))
            else:
                if error is not None:
                    failed.add(message.key)
                results.append(error)
        if failed:
            # Let the next batch (the relay's retry) publish these keys again.
            await asyncio.to_thread(
                lambda: [publisher.resume_publish(self.topic, key) for key in failed]
            )
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
    ) -> _PubSubSubscription:
        await self._ensure_topic()
        _, subscriber = self._clients()
        name = subscription_id(self.namespace, group)
        path = f"projects/{self.project}/subscriptions/{name}"
        dead_topic = f"projects/{self.project}/topics/{name}-dead"
        await self._create_topic(dead_topic)
        self._dead_topics.add(dead_topic)
        request: dict[str, Any] = {
            "name": path,
            "topic": self.topic,
            "enable_message_ordering": True,
            "ack_deadline_seconds": _clamp(ack_wait, MIN_ACK_DEADLINE, MAX_ACK_DEADLINE),
            # The policy also makes Pub/Sub count delivery attempts.
            "dead_letter_policy": {
                "dead_letter_topic": dead_topic,
                "max_delivery_attempts": _clamp(
                    max_deliver, MIN_DELIVERY_ATTEMPTS, MAX_DELIVERY_ATTEMPTS
                ),
            },
            # Not exactly-once: see the module docstring; the inbox absorbs redeliveries.
            "enable_exactly_once_delivery": False,
        }
        if types is not None:
            request["filter"] = type_filter(types)
        await asyncio.to_thread(self._create_subscription, subscriber, request)
        subscription = _PubSubSubscription(
            subscriber=subscriber,
            path=path,
            handler=handler,
            prefetch=prefetch,
            ack_wait=ack_wait,
            types=None if types is None else frozenset(types),
            loop=asyncio.get_running_loop(),
        )
        subscription.start()
        self._subscriptions.append(subscription)
        return subscription

    @staticmethod
    def _create_subscription(
        subscriber: pubsub_v1.SubscriberClient, request: dict[str, Any]
    ) -> None:
        try:
            subscriber.create_subscription(request=request, timeout=_ADMIN_TIMEOUT)
        except google_errors.AlreadyExists:
            # Filter, ordering and policies are fixed at creation; exactly-once is not, and a
            # subscription made by an earlier version may have it on.
            try:
                subscriber.update_subscription(
                    request={
                        "subscription": {
                            "name": request["name"],
                            "enable_exactly_once_delivery": False,
                        },
                        "update_mask": {"paths": ["enable_exactly_once_delivery"]},
                    },
                    timeout=_ADMIN_TIMEOUT,
                )
            except google_errors.GoogleAPICallError as exc:
                log.warning(
                    "bus.pubsub.exactly_once_not_disabled",
                    subscription=request["name"],
                    error=str(exc),
                )
