"""The bookkeeping loop's moving parts: a proposal for every imported bank line, and the
retraining of each ledger's model as labels come in."""

import uuid
from collections.abc import Iterable

import structlog
from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.banking.events import TRANSACTION_IMPORTED
from autoledger.categorize import service
from autoledger.categorize.tables import LabelRecord, ProposalRecord
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import describe
from autoledger.platform.events.consumers import Consumer
from autoledger.platform.events.envelope import Event

log = structlog.get_logger("autoledger.categorize")

#: this process's ledger states (rules, memory, champion), shared by its deliveries
STATES = service.StateCache()


async def propose(session: AsyncSession, event: Event) -> None:
    """Propose (and, when the policy allows, book) the line the event announces."""
    with STATES.metrics.latency.time():
        await service.propose_for_line(session, STATES, event.tenant, uuid.UUID(event.data["id"]))


class _Forward(Collector):
    """Shows the process's bookkeeping metrics on another registry."""

    def collect(self) -> Iterable[Metric]:
        return STATES.metrics.registry.collect()


def serve_metrics(registry: CollectorRegistry) -> None:
    """Report this process's bookkeeping metrics on ``registry`` (an app's /metrics). The
    metrics belong to the process, as the states do, so every app of the process shows the
    same counts; an app started later does not take them from one started earlier."""
    registry.register(_Forward())


CONSUMERS = [
    Consumer(
        name="bookkeeping.propose",
        handle=propose,
        types=frozenset({TRANSACTION_IMPORTED.name}),
    )
]


async def retrain_due(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Retrain every ledger with enough new labels, each in its own transaction. A failure
    is logged and never stops booking: proposals keep the champion (or rules and queue).
    Also refreshes the queue gauges."""
    async with sessionmaker() as session:
        ledgers = (
            await session.execute(select(LabelRecord.tenant_id, LabelRecord.ledger_id).distinct())
        ).all()
        queued, oldest = (
            await session.execute(
                select(func.count(), func.min(ProposalRecord.created_at)).where(
                    ProposalRecord.status == "queued"
                )
            )
        ).one()
    STATES.metrics.queued.set(queued)
    STATES.metrics.queue_age.set(0 if oldest is None else (utcnow() - oldest).total_seconds())
    for tenant_id, ledger_id in ledgers:
        try:
            async with sessionmaker() as session, session.begin():
                trained = await service.retrain_ledger(session, tenant_id, ledger_id)
        except Exception as exc:  # one ledger's failure must not stop the others
            log.error("categorize.retrain.failed", ledger_id=str(ledger_id), error=describe(exc))
            continue
        if trained is not None:
            log.info(
                "categorize.retrained",
                ledger_id=str(ledger_id),
                version=trained.version,
                status=trained.status,
                decision=trained.decision,
            )
            await warm(sessionmaker, tenant_id, ledger_id)


async def warm(
    sessionmaker: async_sessionmaker[AsyncSession], tenant_id: uuid.UUID, ledger_id: uuid.UUID
) -> None:
    """Bring this process's state of a ledger up to date now — a new champion or thresholds
    after a retrain, the labels of the reviews before it — so that the next line does not
    pay for it. A ledger this process has not proposed for is left alone (its state is
    loaded when a line needs it); a failure only leaves the work to that line."""
    if ledger_id not in STATES.states:
        return
    try:
        async with sessionmaker() as session:
            await STATES.get(session, tenant_id, ledger_id)
    except Exception as exc:
        log.warning("categorize.warm_failed", ledger_id=str(ledger_id), error=describe(exc))
