"""The composition root of a process: what ``serve`` and ``worker`` run besides HTTP.

One :class:`Runtime` per process owns the engine, the journal writer, the event worker
(relay, consumers, webhook dispatcher), the outbox-lag load shedder and the housekeeping
loop, and starts and stops them in dependency order.
"""

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from autoledger.banking.pipeline import Importer
from autoledger.banking.worker import ImportWorker
from autoledger.categorize.consumers import retrain_due, serve_metrics
from autoledger.db.engine import create_engine, create_sessionmaker
from autoledger.db.tenancy import system_settings, tenant_sessionmaker
from autoledger.kit.errors import describe
from autoledger.kit.settings import Settings
from autoledger.ledger.expiry import expire_pending
from autoledger.ledger.writer import JournalWriter
from autoledger.platform.crypto.keyring import ensure_keyring
from autoledger.platform.events import outbox
from autoledger.platform.events.backpressure import LoadShedder
from autoledger.platform.events.bus import Bus
from autoledger.platform.events.buses import create_bus
from autoledger.platform.events.consumers import Consumer, purge_inbox, registered_consumers
from autoledger.platform.events.metrics import EventMetrics
from autoledger.platform.events.worker import EventWorker, Service
from autoledger.platform.idempotency.service import purge_expired
from autoledger.platform.observability.metrics import HttpMetrics
from autoledger.platform.storage import LocalObjectStore
from autoledger.platform.webhooks.dispatcher import WebhookDispatcher

log = structlog.get_logger("autoledger.runtime")


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine  # the request path: row-level security applies (ADR 0009)
    sessionmaker: async_sessionmaker[AsyncSession]
    system_engine: AsyncEngine  # cross-tenant system work; the same engine when one URL
    system_sessionmaker: async_sessionmaker[AsyncSession]
    writer: JournalWriter
    metrics: HttpMetrics
    event_metrics: EventMetrics
    shedder: LoadShedder
    worker: EventWorker | None
    importer: Importer
    imports: ImportWorker
    _housekeeping: "asyncio.Task[None] | None" = field(default=None)

    @classmethod
    def build(
        cls,
        settings: Settings,
        *,
        with_worker: bool,
        consumers: Sequence[Consumer] | None = None,
        bus: Bus | None = None,
        services: Sequence[Service] | None = None,
        relay: bool = True,
    ) -> "Runtime":
        # One key-encryption-key provider per process (ADR 0006), from these settings.
        ensure_keyring(settings)
        engine = create_engine(settings)
        sessionmaker = tenant_sessionmaker(engine)
        system_engine = (
            engine
            if settings.system_database_url in (None, settings.database_url)
            else create_engine(system_settings(settings))
        )
        system = create_sessionmaker(system_engine)
        metrics = HttpMetrics()
        event_metrics = EventMetrics(registry=metrics.registry)
        serve_metrics(metrics.registry)
        writer = JournalWriter(
            sessionmaker,
            max_group=settings.writer_max_group,
            max_queue=settings.writer_max_queue,
            serialize=settings.is_sqlite,
        )
        worker = None
        if with_worker:
            worker = EventWorker(
                settings,
                system,
                bus if bus is not None else create_bus(settings),
                registered_consumers() if consumers is None else consumers,
                event_metrics,
                relay_enabled=relay,
                services=default_services(settings, system) if services is None else services,
            )
        shedder = LoadShedder(system, settings.outbox_max_lag, event_metrics)
        importer = Importer(
            sessionmaker,
            system,
            LocalObjectStore(settings.object_store_dir or settings.data_dir / "objects"),
            settings.data_dir / "tmp",
            settings.import_max_bytes,
            heartbeats=not settings.is_sqlite,
        )
        return cls(
            settings,
            engine,
            sessionmaker,
            system_engine,
            system,
            writer,
            metrics,
            event_metrics,
            shedder,
            worker,
            importer,
            ImportWorker(importer, system),
        )

    async def start(self) -> None:
        await self.writer.start()
        await self.shedder.start()
        if self.worker is not None:
            await self.worker.start()
        await self.imports.start()
        self._housekeeping = asyncio.create_task(self._chores(), name="housekeeping")

    async def stop(self) -> None:
        if self._housekeeping is not None:
            self._housekeeping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._housekeeping
        await self.imports.stop()  # an import cut short rolls back; its lease lets another retry
        await self.writer.stop()  # commit what is queued, so its events reach the outbox
        if self.worker is not None:
            await self.worker.stop()
        await self.shedder.stop()
        await self.engine.dispose()
        if self.system_engine is not self.engine:
            await self.system_engine.dispose()

    async def _chores(self) -> None:
        """Void expired holds; forget expired idempotency keys, old sent events, old inbox;
        retrain the categorization models that have enough new labels."""
        s = self.settings
        while True:
            try:
                await expire_pending(self.writer, self.system_sessionmaker)
                async with self.system_sessionmaker() as session, session.begin():
                    await purge_expired(session)
                    await outbox.purge_published(session, timedelta(hours=s.outbox_retention_hours))
                    await purge_inbox(session, timedelta(hours=s.inbox_retention_hours))
                if self.worker is not None:  # where consumers run, models are retrained
                    await retrain_due(self.system_sessionmaker)
            except Exception as exc:  # keep the loop alive; the next round retries
                log.error("housekeeping.failed", error=describe(exc))
            await asyncio.sleep(s.pending_expiry_interval_seconds)


def default_services(
    settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> list[Service]:
    """Background services of a worker besides relay and consumers."""
    return [WebhookDispatcher(settings, sessionmaker)]
