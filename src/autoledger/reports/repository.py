"""Every query the reports make, scoped by tenant and ledger. Balances come from the
journal's aggregates (``account_month_totals`` for whole months, ``account_day_totals`` for
the days around them), never from a scan of the postings; only the direct cash flow reads
postings, those of the entries that moved cash within its period."""

import uuid
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVarTuple

from sqlalchemy import Result, Select, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from autoledger.banking.tables import BankAccount
from autoledger.ledger.tables import (
    Account,
    AccountDayTotal,
    AccountMonthTotal,
    Balance,
    JournalEntry,
    Posting,
)
from autoledger.ledger.types import AccountType
from autoledger.reconcile.tables import OpenItem, OpenItemAccount, OpenItemSettlement
from autoledger.reports.aging import AgingItem
from autoledger.reports.periods import month_end
from autoledger.reports.statements import ACTIVITY_KEY, AccountInfo

Ts = TypeVarTuple("Ts")


@dataclass(frozen=True, slots=True)
class _Ranges:
    """``[start, end]`` as whole months plus the days before and after them."""

    months: tuple[date, date] | None
    days: list[tuple[date | None, date]]


def _ranges(start: date | None, end: date) -> _Ranges:
    first_full = start if start is None or start.day == 1 else month_end(start) + timedelta(days=1)
    last_full_end = end if end == month_end(end) else end.replace(day=1) - timedelta(days=1)
    if first_full is not None and first_full > last_full_end:
        return _Ranges(None, [(start, end)])
    days: list[tuple[date | None, date]] = []
    if start is not None and first_full is not None and start < first_full:
        days.append((start, first_full - timedelta(days=1)))
    if last_full_end < end:
        days.append((last_full_end + timedelta(days=1), end))
    months = (first_full or date.min, last_full_end.replace(day=1))
    return _Ranges(months, days)


class ReportRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def _core(self, stmt: Select[*Ts]) -> Result[*Ts]:
        """Plain rows through the session's connection (and transaction), without the
        ORM's per-row loading: a report reads one row per account, tens of thousands."""
        connection = await self.session.connection()
        return await connection.execute(stmt)

    async def accounts(self, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> list[AccountInfo]:
        # Only the one metadata key reports use: decoding every account's metadata costs
        # more than the report itself on a large chart.
        rows = await self._core(
            select(
                Account.id,
                Account.code,
                Account.name,
                Account.type,
                Account.parent_id,
                Account.meta[ACTIVITY_KEY].as_string(),
            ).where(Account.tenant_id == tenant_id, Account.ledger_id == ledger_id)
        )
        return [
            AccountInfo(id_, code, name, AccountType(type_), parent_id, activity)
            for id_, code, name, type_, parent_id, activity in rows.all()
        ]

    async def nets(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        asset: str,
        start: date | None,
        end: date,
    ) -> dict[uuid.UUID, int]:
        """Σ posted debits - Σ posted credits per account, effective in ``[start, end]``
        (from the beginning when ``start`` is None)."""
        [found] = await self.nets_many(tenant_id, ledger_id, asset, [(start, end)])
        return found

    async def nets_many(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        asset: str,
        periods: Sequence[tuple[date | None, date]],
    ) -> list[dict[uuid.UUID, int]]:
        """:meth:`nets` for several periods at once: one pass over the month rows and one
        over the day rows, each period a filtered sum (a report's columns share a scan)."""
        found = await self.nets_by_asset(tenant_id, ledger_id, periods, asset)
        return [by_asset.get(asset, {}) for by_asset in found]

    async def nets_by_asset(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        periods: Sequence[tuple[date | None, date]],
        asset: str | None = None,
    ) -> list[dict[str, dict[uuid.UUID, int]]]:
        """:meth:`nets_many` per asset (every asset the ledger booked, or only ``asset``):
        per period, asset → account → net."""
        out: list[dict[str, dict[uuid.UUID, int]]] = [
            defaultdict(lambda: defaultdict(int)) for _ in periods
        ]
        ranges = [_ranges(start, end) for start, end in periods]
        m, d = AccountMonthTotal, AccountDayTotal
        month_sums = [
            func.sum(case((m.month.between(*r.months), m.debits - m.credits), else_=0))
            for r in ranges
            if r.months is not None
        ]
        month_owner = [i for i, r in enumerate(ranges) if r.months is not None]
        day_terms = []
        day_owner = []
        for i, r in enumerate(ranges):
            for first, last in r.days:
                inside = d.day <= last if first is None else d.day.between(first, last)
                day_terms.append(func.sum(case((inside, d.debits - d.credits), else_=0)))
                day_owner.append(i)
        if month_sums:
            lows = [r.months[0] for r in ranges if r.months is not None]
            highs = [r.months[1] for r in ranges if r.months is not None]
            stmt = (
                select(m.account_id, m.asset, *month_sums)
                .where(
                    m.tenant_id == tenant_id,
                    m.ledger_id == ledger_id,
                    m.month >= min(lows),
                    m.month <= max(highs),
                )
                .group_by(m.account_id, m.asset)
            )
            if asset is not None:
                stmt = stmt.where(m.asset == asset)
            for row in (await self._core(stmt)).all():
                for owner, value in zip(month_owner, row[2:], strict=True):
                    out[owner][row[1]][row[0]] += int(value or 0)
        if day_terms:
            firsts = [f for r in ranges for f, _ in r.days]
            lasts = [last for r in ranges for _, last in r.days]
            day_stmt = select(d.account_id, d.asset, *day_terms).where(
                d.tenant_id == tenant_id,
                d.ledger_id == ledger_id,
                d.day <= max(lasts),
            )
            if asset is not None:
                day_stmt = day_stmt.where(d.asset == asset)
            if all(f is not None for f in firsts):
                day_stmt = day_stmt.where(d.day >= min(f for f in firsts if f is not None))
            for row in (await self._core(day_stmt.group_by(d.account_id, d.asset))).all():
                for owner, value in zip(day_owner, row[2:], strict=True):
                    out[owner][row[1]][row[0]] += int(value or 0)
        return [{a: dict(nets) for a, nets in by_asset.items()} for by_asset in out]

    async def closing_nets(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        periods: Sequence[tuple[date | None, date]],
    ) -> list[dict[str, dict[uuid.UUID, int]]]:
        """Per period, asset → account → net of the year-end closing entries (ADR 0018)
        effective in it. Read through the entries' source index: closing entries are
        ``system`` entries, of which a ledger has a few per period, not a scan of the year."""
        e, p = JournalEntry, Posting
        rows = await self._core(
            select(e.effective_date, p.asset, p.account_id, p.direction, p.posted_amount)
            .join(p, p.entry_id == e.id)
            .where(
                e.tenant_id == tenant_id,
                e.source_type == "system",
                e.ledger_id == ledger_id,
                e.status == "posted",
                e.meta["closing_entry"].as_string() == "true",
            )
        )
        out: list[dict[str, dict[uuid.UUID, int]]] = [{} for _ in periods]
        for day, asset, account, direction, amount in rows.all():
            signed = (amount or 0) if direction == "debit" else -(amount or 0)
            for i, (start, end) in enumerate(periods):
                if (start is None or start <= day) and day <= end:
                    nets = out[i].setdefault(asset, {})
                    nets[account] = nets.get(account, 0) + signed
        return out

    async def active_accounts(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, asset: str, start: date, end: date
    ) -> set[uuid.UUID]:
        """Accounts with a posting in ``[start, end]``."""
        d = AccountDayTotal
        rows = await self.session.scalars(
            select(d.account_id)
            .where(
                d.tenant_id == tenant_id,
                d.ledger_id == ledger_id,
                d.asset == asset,
                d.day >= start,
                d.day <= end,
            )
            .distinct()
        )
        return set(rows.all())

    async def assets(self, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> list[str]:
        """The assets the ledger's accounts hold (from their running balances)."""
        rows = await self.session.scalars(
            select(Balance.asset)
            .join(Account, Account.id == Balance.account_id)
            .where(
                Balance.tenant_id == tenant_id,
                Account.ledger_id == ledger_id,
                (Balance.debits_posted != 0) | (Balance.credits_posted != 0),
            )
            .distinct()
            .order_by(Balance.asset)
        )
        return list(rows.all())

    async def cash_accounts(self, tenant_id: uuid.UUID, ledger_id: uuid.UUID) -> set[uuid.UUID]:
        """The ledger accounts that bank accounts are booked on."""
        rows = await self.session.scalars(
            select(BankAccount.gl_account_id).where(
                BankAccount.tenant_id == tenant_id, BankAccount.ledger_id == ledger_id
            )
        )
        return set(rows.all())

    async def cash_counterparts(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        asset: str,
        cash: Collection[uuid.UUID],
        start: date,
        end: date,
    ) -> dict[uuid.UUID, int]:
        """Nets of the non-cash postings of the entries with a cash posting in the period."""
        found = await self.cash_counterparts_by_asset(tenant_id, ledger_id, cash, start, end, asset)
        return found.get(asset, {})

    async def cash_counterparts_by_asset(
        self,
        tenant_id: uuid.UUID,
        ledger_id: uuid.UUID,
        cash: Collection[uuid.UUID],
        start: date,
        end: date,
        asset: str | None = None,
    ) -> dict[str, dict[uuid.UUID, int]]:
        """:meth:`cash_counterparts` per asset (every asset, or only ``asset``). An entry
        balances per asset, so the non-cash legs in an asset in which it moved no cash net
        to zero."""
        if not cash:
            return {}
        c = aliased(Posting)
        moved_cash = select(c.entry_id).where(
            c.tenant_id == tenant_id,
            c.account_id.in_(cash),
            c.effective_date >= start,
            c.effective_date <= end,
            c.posted_amount.is_not(None),
        )
        if asset is not None:
            moved_cash = moved_cash.where(c.asset == asset)
        signed = case(
            (Posting.direction == "debit", Posting.posted_amount), else_=-Posting.posted_amount
        )
        stmt = (
            select(Posting.asset, Posting.account_id, func.sum(signed))
            .where(
                Posting.tenant_id == tenant_id,
                Posting.ledger_id == ledger_id,
                Posting.posted_amount.is_not(None),
                Posting.account_id.not_in(cash),
                Posting.entry_id.in_(moved_cash),
            )
            .group_by(Posting.asset, Posting.account_id)
        )
        if asset is not None:
            stmt = stmt.where(Posting.asset == asset)
        out: dict[str, dict[uuid.UUID, int]] = defaultdict(dict)
        for asset_, account_id, net in (await self.session.execute(stmt)).all():
            if net:
                out[asset_][account_id] = int(net)
        return dict(out)

    async def open_items(
        self, tenant_id: uuid.UUID, ledger_id: uuid.UUID, role: str, currency: str, as_of: date
    ) -> list[AgingItem]:
        """Items of the ledger's ``role`` accounts as they stood at ``as_of``: issued by
        then, not cancelled by a reversal effective by then, less the settlements effective
        by then (a settlement reversed by then counts for nothing)."""
        cancel = aliased(JournalEntry)
        cancelled = select(cancel.reverses_id).where(
            cancel.tenant_id == tenant_id,
            cancel.ledger_id == ledger_id,
            cancel.reverses_id.is_not(None),
            cancel.effective_date <= as_of,
        )
        items = (
            await self.session.execute(
                select(
                    OpenItem.id,
                    OpenItem.reference,
                    OpenItem.counterparty,
                    OpenItem.issued,
                    OpenItem.due_date,
                    OpenItem.amount,
                )
                .join(OpenItemAccount, OpenItemAccount.account_id == OpenItem.account_id)
                .where(
                    OpenItem.tenant_id == tenant_id,
                    OpenItem.ledger_id == ledger_id,
                    OpenItemAccount.ledger_id == ledger_id,
                    OpenItemAccount.role == role,
                    OpenItem.currency == currency,
                    OpenItem.issued <= as_of,
                    OpenItem.entry_id.not_in(cancelled),
                )
            )
        ).all()
        if not items:
            return []
        settled = await self._settled(tenant_id, [i[0] for i in items], as_of)
        return [
            AgingItem(id_, ref, cp, issued, due, amount - settled.get(id_, 0))
            for id_, ref, cp, issued, due, amount in items
        ]

    async def _settled(
        self, tenant_id: uuid.UUID, item_ids: Sequence[uuid.UUID], as_of: date
    ) -> dict[uuid.UUID, int]:
        settle = aliased(JournalEntry)
        undo = aliased(JournalEntry)
        out: dict[uuid.UUID, int] = defaultdict(int)
        s = OpenItemSettlement
        for chunk in range(0, len(item_ids), 5000):
            stmt = (
                select(s.open_item_id, s.amount, undo.effective_date)
                .join(settle, settle.id == s.entry_id)
                .outerjoin(undo, undo.id == s.reversed_by_entry_id)
                .where(
                    s.tenant_id == tenant_id,
                    s.open_item_id.in_(item_ids[chunk : chunk + 5000]),
                    settle.effective_date <= as_of,
                )
            )
            for item_id, amount, undone in (await self.session.execute(stmt)).all():
                if undone is None or undone > as_of:
                    out[item_id] += amount
        return dict(out)
