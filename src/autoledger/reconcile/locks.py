"""The lock of reconciled periods (ADR 0012, decision 7): while a bank account is reconciled
to a statement date, no match is made, accepted, rejected or undone for its lines booked on or
before that date."""

import uuid
from collections.abc import Iterable
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.reconcile.errors import PeriodLocked
from autoledger.reconcile.tables import BankReconciliation


async def locked_through(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    bank_account_id: uuid.UUID,
    *,
    before: date | None = None,
) -> date | None:
    """The latest statement date the account is reconciled to (its lines up to it are
    locked) — of those before ``before``, when given — or ``None``."""
    query = select(func.max(BankReconciliation.statement_date)).where(
        BankReconciliation.tenant_id == tenant_id,
        BankReconciliation.bank_account_id == bank_account_id,
        BankReconciliation.status == "reconciled",
    )
    if before is not None:
        query = query.where(BankReconciliation.statement_date < before)
    result: date | None = await session.scalar(query)
    return result


async def ensure_unlocked(
    session: AsyncSession, tenant_id: uuid.UUID, bank_account_id: uuid.UUID, lines: Iterable[date]
) -> None:
    """Refuse (409) to change the reconciliation of a line in a reconciled period."""
    through = await locked_through(session, tenant_id, bank_account_id)
    if through is not None and any(day <= through for day in lines):
        raise PeriodLocked(
            f"the bank account is reconciled through {through.isoformat()}; its lines up to"
            " that date are locked (reopen the reconciliation to change them)"
        )
