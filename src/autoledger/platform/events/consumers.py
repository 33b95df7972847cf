"""Idempotent event consumers: inbox, retries with backoff and jitter, dead letters.

A :class:`Consumer` is a name, the event types it wants and an async handler that takes the
session of a transaction the framework owns. For each delivery the framework, in one
transaction, inserts the inbox row ``(consumer, event_id)`` and runs the handler: a
redelivered event finds the row and has no second effect. A handler that raises is retried
(the broker redelivers after an exponential backoff with jitter); after the last attempt the
event is written to the dead-letter store with the error and acknowledged, so a poison
event never blocks the queue. ``replay`` puts a dead letter back on the bus.
"""

import importlib
import random
import traceback
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from pydantic import ValidationError
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import Conflict, NotFound
from autoledger.platform import audit
from autoledger.platform.events import outbox
from autoledger.platform.events.bus import Bus, Delivery, Subscription
from autoledger.platform.events.envelope import Event
from autoledger.platform.events.tables import DeadLetter, InboxRecord

log = structlog.get_logger("autoledger.events.consumers")

HandlerFn = Callable[[AsyncSession, Event], Awaitable[None]]

# Modules that declare consumers (a module-level ``CONSUMERS`` list); the worker runs them all.
CONSUMER_MODULES: tuple[str, ...] = (
    "autoledger.platform.webhooks.consumers",
    "autoledger.categorize.consumers",
    "autoledger.reconcile.consumers",
)


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    handle: HandlerFn
    types: frozenset[str] | None = None  # None: every type


def registered_consumers(modules: Iterable[str] = CONSUMER_MODULES) -> list[Consumer]:
    found: list[Consumer] = []
    for module in modules:
        found.extend(importlib.import_module(module).CONSUMERS)
    return found


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 1.0
    max_seconds: float = 300.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Backoff before attempt ``attempt + 1``: exponential, capped, "equal jitter"
        (half fixed, half random), so retries of many events spread out."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** max(attempt - 1, 0))
        uniform = rng.uniform if rng is not None else random.uniform
        return ceiling / 2 + uniform(0, ceiling / 2)


@dataclass
class ConsumerStats:
    processed: int = 0
    duplicates: int = 0
    retried: int = 0
    dead_lettered: int = 0


@dataclass
class ConsumerRunner:
    """Runs one consumer against the bus: one durable group named after the consumer."""

    consumer: Consumer
    sessionmaker: async_sessionmaker[AsyncSession]
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    stats: ConsumerStats = field(default_factory=ConsumerStats)
    on_result: Callable[[str, str], None] | None = None  # (consumer, outcome) for metrics

    async def start(self, bus: Bus, *, prefetch: int = 64, ack_wait: float = 30.0) -> Subscription:
        return await bus.subscribe(
            self.consumer.name,
            self.deliver,
            types=sorted(self.consumer.types) if self.consumer.types is not None else None,
            prefetch=prefetch,
            ack_wait=ack_wait,
            # The broker's own limit sits above ours: we dead-letter, it never drops.
            max_deliver=self.retry.max_attempts + 5,
        )

    def _count(self, outcome: str) -> None:
        if self.on_result is not None:
            self.on_result(self.consumer.name, outcome)

    async def deliver(self, delivery: Delivery) -> None:
        try:
            event = Event.from_json(delivery.message.body)
        except ValidationError as exc:
            # Not an event at all: nothing can fix it by retrying.
            log.error("consumer.undecodable", consumer=self.consumer.name, error=str(exc)[:500])
            await delivery.ack()
            return
        if self.consumer.types is not None and event.type not in self.consumer.types:
            await delivery.ack()
            return
        try:
            applied = await self._apply(event)
        except Exception as exc:
            await self._failed(delivery, event, exc)
            return
        self.stats.processed += applied
        self.stats.duplicates += not applied
        self._count("processed" if applied else "duplicate")
        await delivery.ack()

    async def _apply(self, event: Event) -> bool:
        """Inbox row and handler in one transaction; False when already applied."""
        async with self.sessionmaker() as session, session.begin():
            if not await _claim_inbox(session, self.consumer.name, event.id):
                return False
            await self.consumer.handle(session, event)
        return True

    async def _failed(self, delivery: Delivery, event: Event, exc: Exception) -> None:
        attempt = delivery.attempt
        error = "".join(traceback.format_exception_only(exc)).strip()[:4000]
        if attempt < self.retry.max_attempts:
            delay = self.retry.delay(attempt)
            log.warning(
                "consumer.retry",
                consumer=self.consumer.name,
                event_id=str(event.id),
                attempt=attempt,
                delay=round(delay, 3),
                error=error[:300],
            )
            self.stats.retried += 1
            self._count("retried")
            await delivery.nak(delay)
            return
        async with self.sessionmaker() as session, session.begin():
            session.add(
                DeadLetter(
                    tenant_id=event.tenant,
                    consumer=self.consumer.name,
                    event_id=event.id,
                    event_type=event.type,
                    body=delivery.message.body,
                    error=error,
                    attempts=attempt,
                    status="dead",
                    created_at=utcnow(),
                )
            )
        log.error(
            "consumer.dead_lettered",
            consumer=self.consumer.name,
            event_id=str(event.id),
            attempts=attempt,
            error=error[:300],
        )
        self.stats.dead_lettered += 1
        self._count("dead_lettered")
        await delivery.ack()


async def _claim_inbox(session: AsyncSession, consumer: str, event_id: uuid.UUID) -> bool:
    """Insert the inbox row; False when it exists (a concurrent duplicate waits on the key)."""
    values = {"consumer": consumer, "event_id": event_id, "processed_at": utcnow()}
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    stmt = (
        pg_insert(InboxRecord).values(**values).on_conflict_do_nothing()
        if dialect == "postgresql"
        else sqlite_insert(InboxRecord).values(**values).on_conflict_do_nothing()
    )
    result = await session.execute(stmt)
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def purge_inbox(session: AsyncSession, older_than: timedelta) -> int:
    """Forget inbox rows older than the longest a broker could still redeliver."""
    result = await session.execute(
        delete(InboxRecord).where(InboxRecord.processed_at < utcnow() - older_than)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# dead letters: the store behind GET /v1/dead-letters and the CLI
class DeadLetterNotFound(NotFound):
    code = "events.dead_letter_not_found"
    title = "Dead letter not found"


class DeadLetterReplayed(Conflict):
    code = "events.dead_letter_replayed"
    title = "Dead letter already replayed"


async def list_dead_letters(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    *,
    status: str | None = "dead",
    consumer: str | None = None,
    after: uuid.UUID | None = None,
    limit: int = 100,
) -> Sequence[DeadLetter]:
    """Newest last, cursor ``after`` an id; ``tenant_id`` None lists every tenant (operators)."""
    query = select(DeadLetter).order_by(DeadLetter.id).limit(limit)
    if tenant_id is not None:
        query = query.where(DeadLetter.tenant_id == tenant_id)
    if status is not None:
        query = query.where(DeadLetter.status == status)
    if consumer is not None:
        query = query.where(DeadLetter.consumer == consumer)
    if after is not None:
        query = query.where(DeadLetter.id > after)
    return (await session.scalars(query)).all()


async def get_dead_letter(
    session: AsyncSession, tenant_id: uuid.UUID | None, dead_letter_id: uuid.UUID
) -> DeadLetter:
    letter = await session.get(DeadLetter, dead_letter_id, with_for_update=True)
    if letter is None or (tenant_id is not None and letter.tenant_id != tenant_id):
        raise DeadLetterNotFound(f"no dead letter {dead_letter_id}")
    return letter


async def replay(
    session: AsyncSession,
    tenant_id: uuid.UUID | None,
    dead_letter_id: uuid.UUID,
    *,
    actor: str = "cli",
) -> DeadLetter:
    """Queue the event again through the outbox (in the caller's transaction).

    Every consumer sees it again; those that applied it already skip it by their inbox, so
    only the consumer that gave up (and any that never got it) applies it now. The replay is
    audited here as done by ``actor`` — unless an HTTP request runs it, which records itself.
    """
    letter = await get_dead_letter(session, tenant_id, dead_letter_id)
    if letter.status != "dead":
        raise DeadLetterReplayed(f"dead letter {dead_letter_id} was replayed already")
    event = Event.from_json(letter.body)
    await outbox.append_replay(session, event, dedup_id=f"{event.id}.replay.{letter.id}")
    letter.status = "replayed"
    letter.replayed_at = utcnow()
    await session.flush()
    if not audit.request_audited(session):
        change = {"dead_letter_id": str(letter.id), "event_id": str(letter.event_id)}
        await audit.record(
            session,
            [
                audit.AuditEntry(
                    tenant_id=letter.tenant_id,
                    actor=actor,
                    action="events.dead_letter.replay",
                    target_type="dead_letter",
                    target_id=str(letter.id),
                    change_digest=audit.change_digest(change),
                    details={"consumer": letter.consumer, "event_type": letter.event_type},
                )
            ],
            now=letter.replayed_at,
        )
    return letter
