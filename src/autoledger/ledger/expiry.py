"""Pending entries past their ``expires_at`` are voided by the system, through the journal."""

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from autoledger.kit.clock import utcnow
from autoledger.ledger.commands import VoidPending
from autoledger.ledger.repository import LedgerRepository
from autoledger.ledger.writer import JournalWriter

log = structlog.get_logger("autoledger.ledger.expiry")
EXPIRY_ACTOR = "system:expiry"


async def expire_pending(
    writer: JournalWriter, sessionmaker: async_sessionmaker[AsyncSession], limit: int = 500
) -> int:
    """Void up to ``limit`` expired holds; returns how many were voided."""
    async with sessionmaker() as session:
        due = await LedgerRepository(session).expired_pending(utcnow(), limit)
    if not due:
        return 0
    outcomes = await writer.execute([VoidPending(t, e, EXPIRY_ACTOR) for t, e in due], atomic=False)
    voided = sum(1 for o in outcomes if not isinstance(o, Exception))
    log.info("ledger.pending_expired", voided=voided, due=len(due))
    return voided
