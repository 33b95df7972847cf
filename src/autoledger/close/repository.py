"""Every query the period close makes, scoped by tenant and ledger."""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.tables import BankAccount, BankTransactionRecord
from autoledger.categorize.tables import ProposalRecord
from autoledger.ledger.tables import Account, JournalEntry, Posting
from autoledger.reconcile.tables import BankReconciliation


@dataclass(frozen=True, slots=True)
class QueueRow:
    currency: str
    count: int
    total: int
    oldest: date


class CloseRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def bank_accounts(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID
    ) -> Sequence[BankAccount]:
        return (
            await self.session.scalars(
                select(BankAccount)
                .where(BankAccount.tenant_id == tenant_id, BankAccount.ledger_id == ledger_id)
                .order_by(BankAccount.name, BankAccount.id)
            )
        ).all()

    async def reconciled_through(
        self, tenant_id: uuid.UUID, bank_account_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, date]:
        """Each account's latest standing sign-off (ADR 0012, decision 7)."""
        if not bank_account_ids:
            return {}
        rows = await self.session.execute(
            select(BankReconciliation.bank_account_id, func.max(BankReconciliation.statement_date))
            .where(
                BankReconciliation.tenant_id == tenant_id,
                BankReconciliation.bank_account_id.in_(bank_account_ids),
                BankReconciliation.status == "reconciled",
            )
            .group_by(BankReconciliation.bank_account_id)
        )
        return {account: day for account, day in rows.all()}

    async def banks_with_lines(
        self, tenant_id: uuid.UUID, bank_account_ids: Collection[uuid.UUID], end: date
    ) -> set[uuid.UUID]:
        if not bank_account_ids:
            return set()
        rows = await self.session.scalars(
            select(BankTransactionRecord.bank_account_id)
            .where(
                BankTransactionRecord.tenant_id == tenant_id,
                BankTransactionRecord.bank_account_id.in_(bank_account_ids),
                BankTransactionRecord.booking_date <= end,
            )
            .distinct()
        )
        return set(rows.all())

    async def accounts_with_postings(
        self, tenant_id: uuid.UUID, account_ids: Collection[uuid.UUID], end: date
    ) -> set[uuid.UUID]:
        if not account_ids:
            return set()
        rows = await self.session.scalars(
            select(Posting.account_id)
            .where(
                Posting.tenant_id == tenant_id,
                Posting.account_id.in_(account_ids),
                Posting.effective_date <= end,
                Posting.posted_amount.is_not(None),
            )
            .distinct()
        )
        return set(rows.all())

    async def review_queue(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, end: date
    ) -> list[QueueRow]:
        """Queued proposals of lines booked on or before ``end``, per currency."""
        p = ProposalRecord
        rows = await self.session.execute(
            select(p.currency, func.count(), func.sum(p.impact), func.min(p.booking_date))
            .where(
                p.tenant_id == tenant_id,
                p.ledger_id == ledger_id,
                p.status == "queued",
                p.booking_date <= end,
            )
            .group_by(p.currency)
        )
        return [QueueRow(c, int(n), int(t or 0), d) for c, n, t, d in rows.all()]

    async def flagged_or_coded(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, flag: str, code: str
    ) -> list[Account]:
        """Accounts whose metadata sets ``flag`` to "true"; else the account ``code``."""
        flagged = (
            await self.session.scalars(
                select(Account)
                .where(
                    Account.tenant_id == tenant_id,
                    Account.ledger_id == ledger_id,
                    Account.meta[flag].as_string() == "true",
                )
                .order_by(Account.code)
            )
        ).all()
        if flagged:
            return list(flagged)
        coded = await self.session.scalar(
            select(Account).where(
                Account.tenant_id == tenant_id,
                Account.ledger_id == ledger_id,
                Account.code == code,
            )
        )
        return [] if coded is None else [coded]

    async def accounts(self, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> Sequence[Account]:
        return (
            await self.session.scalars(
                select(Account).where(
                    Account.tenant_id == tenant_id, Account.ledger_id == ledger_id
                )
            )
        ).all()

    async def closing_entries(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, source_id: str
    ) -> Sequence[JournalEntry]:
        """The closing entries of one year end, in the order they were booked."""
        return (
            await self.session.scalars(
                select(JournalEntry)
                .where(
                    JournalEntry.tenant_id == tenant_id,
                    JournalEntry.ledger_id == ledger_id,
                    JournalEntry.source_type == "system",
                    JournalEntry.source_id == source_id,
                )
                .order_by(JournalEntry.seq)
            )
        ).all()
