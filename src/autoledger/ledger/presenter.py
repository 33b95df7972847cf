"""Turns ledger read models (minor units) into API schemas (decimal strings)."""

import uuid
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.money import format_amount, iso_currency
from autoledger.ledger import schemas, service
from autoledger.ledger.tables import Account, Ledger
from autoledger.ledger.types import AccountType
from autoledger.ledger.views import AccountBalances, BalanceView, EntryView, Statement


class Presenter:
    """Formats amounts with each asset's scale; loads tenant assets only when needed."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._custom: dict[str, int] | None = None

    async def prepare(self, codes: set[str]) -> None:
        if self._custom is None and any(iso_currency(code) is None for code in codes):
            self._custom = await service.asset_scales(self.session, self.tenant_id)

    def scale(self, code: str) -> int:
        iso = iso_currency(code)
        if iso is not None:
            return iso.scale
        return (self._custom or {}).get(code, 0)

    def amount(self, minor: int, code: str) -> str:
        return format_amount(minor, self.scale(code))

    async def entry(self, view: EntryView) -> schemas.EntryOut:
        await self.prepare({p.asset for p in view.postings})
        return self.entry_now(view)

    def entry_now(self, view: EntryView) -> schemas.EntryOut:
        return entry_out(view, self.amount)

    async def account(self, account: Account) -> schemas.AccountOut:
        code = account.asset
        if account.balance_limit is not None and code is None:
            ledger = await service.get_ledger(self.session, self.tenant_id, account.ledger_id)
            code = ledger.base_currency
        if code is not None:
            await self.prepare({code})
        return schemas.AccountOut(
            id=account.id,
            ledger_id=account.ledger_id,
            code=account.code,
            name=account.name,
            type=AccountType(account.type),
            normal_side=AccountType(account.type).normal_side,
            parent_id=account.parent_id,
            asset=account.asset,
            debits_must_not_exceed_credits=account.debits_must_not_exceed_credits,
            credits_must_not_exceed_debits=account.credits_must_not_exceed_debits,
            balance_limit=None
            if account.balance_limit is None or code is None
            else self.amount(account.balance_limit, code),
            status=account.status,  # type: ignore[arg-type]
            metadata=dict(account.meta),
            created_at=account.created_at,
        )

    def _balance(self, b: BalanceView) -> schemas.BalanceOut:
        return schemas.BalanceOut(
            asset=b.asset,
            debits_posted=self.amount(b.debits_posted, b.asset),
            credits_posted=self.amount(b.credits_posted, b.asset),
            debits_pending=self.amount(b.debits_pending, b.asset),
            credits_pending=self.amount(b.credits_pending, b.asset),
            posted=self.amount(b.posted, b.asset),
            available=self.amount(b.available, b.asset),
            version=b.version,
        )

    async def balances(self, view: AccountBalances) -> schemas.AccountBalanceOut:
        await self.prepare({b.asset for b in [*view.balances, *view.rolled_up]})
        return schemas.AccountBalanceOut(
            account_id=view.account_id,
            normal_side=view.normal_side,  # type: ignore[arg-type]
            as_of=view.as_of,
            balances=[self._balance(b) for b in view.balances],
            rolled_up=[self._balance(b) for b in view.rolled_up],
            descendants=view.descendants,
        )

    async def statement(self, view: Statement) -> schemas.StatementOut:
        await self.prepare({view.asset})
        return schemas.StatementOut(
            account_id=view.account_id,
            asset=view.asset,
            normal_side=view.normal_side,  # type: ignore[arg-type]
            opening_balance=self.amount(view.opening_balance, view.asset),
            lines=[
                schemas.StatementLineOut(
                    entry_id=line.entry_id,
                    seq=line.seq,
                    effective_date=line.effective_date,
                    description=line.description,
                    direction=line.direction,  # type: ignore[arg-type]
                    amount=self.amount(line.amount, view.asset),
                    running_balance=self.amount(line.running_balance, view.asset),
                )
                for line in view.lines
            ],
            next_cursor=view.next_cursor,
        )


def entry_out(view: EntryView, amount: Callable[[int, str], str]) -> schemas.EntryOut:
    """``amount(minor, asset)`` formats each posting's amounts."""
    return schemas.EntryOut(
        id=view.id,
        ledger_id=view.ledger_id,
        client_id=view.client_id,
        seq=view.seq,
        status=view.status,  # type: ignore[arg-type]
        effective_date=view.effective_date,
        recorded_at=view.recorded_at,
        description=view.description,
        metadata=view.metadata,
        source=schemas.SourceOut(type=view.source_type, id=view.source_id),
        actor=view.actor,
        reverses_id=view.reverses_id,
        expires_at=view.expires_at,
        resolved_at=view.resolved_at,
        postings=[
            schemas.PostingOut(
                index=p.index,
                account_id=p.account_id,
                asset=p.asset,
                direction=p.direction,  # type: ignore[arg-type]
                amount=amount(p.amount, p.asset),
                posted_amount=None if p.posted_amount is None else amount(p.posted_amount, p.asset),
            )
            for p in view.postings
        ],
    )


def ledger_out(ledger: Ledger) -> schemas.LedgerOut:
    return schemas.LedgerOut(
        id=ledger.id,
        name=ledger.name,
        base_currency=ledger.base_currency,
        metadata=dict(ledger.meta),
        created_at=ledger.created_at,
        head_seq=ledger.last_seq,
        head_hash=ledger.last_hash,
    )
