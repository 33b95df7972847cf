"""Every query of the open items, tenant-scoped. Item rows that a delivery changes are read
``FOR UPDATE`` (PostgreSQL): two deliveries settling the same item queue behind each other
instead of both spending its open amount."""

import uuid
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.banking.tables import BankAccount
from autoledger.ledger.tables import Account
from autoledger.reconcile.tables import OpenItem, OpenItemAccount, OpenItemSettlement

OPEN_STATUSES = ("open", "partially_settled")


class OpenItemRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = session.bind.dialect.name if session.bind is not None else "sqlite"

    def _locking(self, stmt: Select[Any]) -> Select[Any]:
        return stmt.with_for_update() if self.dialect == "postgresql" else stmt

    async def add(self, row: object) -> None:
        self.session.add(row)
        await self.session.flush()

    async def delete(self, row: object) -> None:
        await self.session.delete(row)
        await self.session.flush()

    # open-item managed accounts
    async def marking(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account_id: uuid.UUID
    ) -> OpenItemAccount | None:
        return await self.session.scalar(
            select(OpenItemAccount).where(
                OpenItemAccount.tenant_id == tenant_id,
                OpenItemAccount.ledger_id == ledger_id,
                OpenItemAccount.account_id == account_id,
            )
        )

    async def markings(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID
    ) -> Sequence[tuple[OpenItemAccount, Account]]:
        rows = await self.session.execute(
            select(OpenItemAccount, Account)
            .join(Account, Account.id == OpenItemAccount.account_id)
            .where(OpenItemAccount.tenant_id == tenant_id, OpenItemAccount.ledger_id == ledger_id)
            .order_by(Account.code)
        )
        return [(marking, account) for marking, account in rows]

    async def roles(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account_ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        rows = await self.session.execute(
            select(OpenItemAccount.account_id, OpenItemAccount.role).where(
                OpenItemAccount.tenant_id == tenant_id,
                OpenItemAccount.ledger_id == ledger_id,
                OpenItemAccount.account_id.in_(account_ids),
            )
        )
        return {account_id: role for account_id, role in rows}

    async def bank_ledger_accounts(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account_ids: Collection[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Which of ``account_ids`` are a bank account's ledger account."""
        rows = await self.session.scalars(
            select(BankAccount.gl_account_id).where(
                BankAccount.tenant_id == tenant_id,
                BankAccount.ledger_id == ledger_id,
                BankAccount.gl_account_id.in_(account_ids),
            )
        )
        return set(rows.all())

    # open items
    async def item(self, tenant_id: uuid.UUID, item_id: uuid.UUID) -> OpenItem | None:
        return await self.session.scalar(
            select(OpenItem).where(OpenItem.tenant_id == tenant_id, OpenItem.id == item_id)
        )

    async def items_of_entry(self, tenant_id: uuid.UUID, entry_id: uuid.UUID) -> Sequence[OpenItem]:
        stmt = select(OpenItem).where(
            OpenItem.tenant_id == tenant_id, OpenItem.entry_id == entry_id
        )
        return (await self.session.scalars(self._locking(stmt.order_by(OpenItem.id)))).all()

    async def items_by_ids(
        self, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
    ) -> dict[uuid.UUID, OpenItem]:
        if not ids:
            return {}
        stmt = select(OpenItem).where(OpenItem.tenant_id == tenant_id, OpenItem.id.in_(ids))
        return {item.id: item for item in await self.session.scalars(self._locking(stmt))}

    async def open_by_reference(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, account_id: uuid.UUID, reference: str
    ) -> Sequence[OpenItem]:
        """The account's still open items of ``reference``, oldest first."""
        stmt = select(OpenItem).where(
            OpenItem.tenant_id == tenant_id,
            OpenItem.ledger_id == ledger_id,
            OpenItem.reference == reference,
            OpenItem.account_id == account_id,
            OpenItem.status.in_(OPEN_STATUSES),
        )
        return (await self.session.scalars(self._locking(stmt.order_by(OpenItem.id)))).all()

    async def items(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        *,
        status: str | None,
        account_id: uuid.UUID | None,
        counterparty: str | None,
        reference: str | None,
        after: uuid.UUID | None,
        limit: int,
    ) -> Sequence[OpenItem]:
        """A page of the ledger's items in creation order (ids are UUIDv7)."""
        stmt = select(OpenItem).where(
            OpenItem.tenant_id == tenant_id, OpenItem.ledger_id == ledger_id
        )
        if status is not None:
            stmt = stmt.where(OpenItem.status == status)
        if account_id is not None:
            stmt = stmt.where(OpenItem.account_id == account_id)
        if counterparty is not None:
            stmt = stmt.where(
                or_(
                    OpenItem.counterparty_id == counterparty,
                    func.lower(OpenItem.counterparty) == counterparty.lower(),
                )
            )
        if reference is not None:
            stmt = stmt.where(OpenItem.reference == reference)
        if after is not None:
            stmt = stmt.where(OpenItem.id > after)
        return (await self.session.scalars(stmt.order_by(OpenItem.id).limit(limit))).all()

    # settlements
    async def settlements_of_entry(
        self, tenant_id: uuid.UUID, entry_id: uuid.UUID
    ) -> Sequence[OpenItemSettlement]:
        return (
            await self.session.scalars(
                select(OpenItemSettlement)
                .where(
                    OpenItemSettlement.tenant_id == tenant_id,
                    OpenItemSettlement.entry_id == entry_id,
                )
                .order_by(OpenItemSettlement.id)
            )
        ).all()

    async def settlements_of_item(
        self, tenant_id: uuid.UUID, item_id: uuid.UUID
    ) -> Sequence[OpenItemSettlement]:
        return (
            await self.session.scalars(
                select(OpenItemSettlement)
                .where(
                    OpenItemSettlement.tenant_id == tenant_id,
                    OpenItemSettlement.open_item_id == item_id,
                )
                .order_by(OpenItemSettlement.id)
            )
        ).all()
