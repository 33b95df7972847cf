"""Period close (ADR 0018): the checklist, the close that enforces it, year-end closing
entries and the reopen. Takes a session; never commits (the request owns the transaction).

Order inside a close, all in one transaction under the ledger's row lock: checklist →
refusal or acknowledgements → closing entries (when the period ends a fiscal year; the
period is still open, so the journal accepts them) → the lock (``set_period_status``).
"""

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.close import checklist as items
from autoledger.close.checklist import Checklist, Item
from autoledger.close.closing import closing_legs
from autoledger.close.errors import (
    CloseChecklistFailed,
    NoRetainedEarningsAccount,
    NotFiscalYearEnd,
)
from autoledger.close.repository import CloseRepository
from autoledger.kit.clock import utcnow
from autoledger.kit.money import format_amount
from autoledger.ledger import journal
from autoledger.ledger import service as ledger_service
from autoledger.ledger.commands import CreateEntry, PostingInput
from autoledger.ledger.errors import PeriodNotFound
from autoledger.ledger.repository import LedgerRepository
from autoledger.ledger.tables import JournalEntry, Ledger, Period
from autoledger.ledger.types import AccountType
from autoledger.reports import service as reports_service
from autoledger.reports.periods import fiscal_year_start
from autoledger.reports.service import FISCAL_YEAR_KEY, fiscal_start_month

SUSPENSE_FLAG, SUSPENSE_CODE = "suspense", "9999"
RETAINED_FLAG, RETAINED_CODE = "retained_earnings", "3200"
CLOSING_FLAG = "closing_entry"
CLOSING_SOURCE = "system"


def ends_fiscal_year(day: date, start_month: int) -> bool:
    after = day + timedelta(days=1)
    return fiscal_year_start(after, start_month) == after


def closing_tag(year_end: date) -> str:
    """``source_id`` of every closing entry of a year end; the first entry's client id."""
    return f"year-end-close:{year_end.isoformat()}"


async def _period(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, period_id: uuid.UUID
) -> tuple[Ledger, Period]:
    ledger = await ledger_service.get_ledger(session, tenant_id, ledger_id)
    period = await LedgerRepository(session).period(tenant_id, period_id)
    if period is None or period.ledger_id != ledger_id:
        raise PeriodNotFound(f"no period {period_id} in ledger {ledger_id}")
    return ledger, period


class _Scales:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session, self.tenant_id = session, tenant_id
        self.known: dict[str, int] = {}

    async def __call__(self, asset: str) -> int:
        if asset not in self.known:
            resolved = await ledger_service.resolve(self.session, self.tenant_id, asset)
            self.known[asset] = resolved.scale
        return self.known[asset]


# --- the checklist ------------------------------------------------------------------------


async def build_checklist(
    session: AsyncSession, tenant_id: uuid.UUID, ledger: Ledger, end: date
) -> Checklist:
    repo = CloseRepository(session)
    scale = _Scales(session, tenant_id)
    balances = await reports_service.nets_by_asset(
        session, tenant_id, ledger.id, start=None, end=end
    )

    banks = await repo.bank_accounts(tenant_id, ledger.id)
    bank_ids = [b.id for b in banks]
    through = await repo.reconciled_through(tenant_id, bank_ids)
    with_lines = await repo.banks_with_lines(tenant_id, bank_ids, end)
    with_postings = await repo.accounts_with_postings(
        tenant_id, {b.gl_account_id for b in banks}, end
    )
    bank = items.bank_item(
        end,
        [
            items.BankFact(
                str(b.id),
                b.name,
                b.currency,
                b.id in with_lines or b.gl_account_id in with_postings,
                through.get(b.id),
            )
            for b in banks
        ],
    )

    queue = items.queue_item(
        [
            items.QueueFact(q.currency, q.count, q.total, q.oldest, await scale(q.currency))
            for q in await repo.review_queue(tenant_id, ledger.id, end)
        ]
    )

    suspense_accounts = await repo.flagged_or_coded(
        tenant_id, ledger.id, SUSPENSE_FLAG, SUSPENSE_CODE
    )
    suspense = items.suspense_item(
        {str(a.id): a.code for a in suspense_accounts},
        await _holdings(balances, {a.id: a.code for a in suspense_accounts}, scale),
    )

    multi = {a.id: a.code for a in await repo.accounts(tenant_id, ledger.id) if a.asset is None}
    tag = f"fx-revaluation:{end.isoformat()}"
    done = await LedgerRepository(session).entries_by_client_ids([(ledger.id, tag)])
    revaluation = items.revaluation_item(
        end,
        ledger.base_currency,
        await _holdings(balances, multi, scale),
        str(done[0].id) if done else None,
    )
    return Checklist(end, (bank, queue, suspense, revaluation))


async def _holdings(
    balances: dict[str, dict[uuid.UUID, int]], accounts: dict[uuid.UUID, str], scale: _Scales
) -> list[items.Holding]:
    return [
        items.Holding(str(account), accounts[account], asset, net, await scale(asset))
        for asset, nets in sorted(balances.items())
        for account, net in nets.items()
        if account in accounts and net
    ]


async def checklist(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, period_id: uuid.UUID
) -> tuple[Period, Checklist]:
    ledger, period = await _period(session, tenant_id, ledger_id, period_id)
    return period, await build_checklist(session, tenant_id, ledger, period.end_date)


# --- closing entries ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClosingEntries:
    period: Period
    fiscal_year_start: date
    fiscal_year_end: date
    retained_earnings_account_id: uuid.UUID
    booked: uuid.UUID | None  # the entry this call booked, if any
    entries: Sequence[JournalEntry]  # every closing entry of the year end, oldest first


async def book_closing_entries(
    session: AsyncSession, tenant_id: uuid.UUID, ledger: Ledger, period: Period, *, actor: str
) -> ClosingEntries:
    """Close the fiscal year the period ends: one entry, effective its last day, takes what
    is left of every revenue and expense account's movement of the year (per asset) into
    retained earnings. Idempotent: with nothing left it books nothing; after a reopen and
    adjustments it books a corrective entry for exactly the adjustments."""
    month = fiscal_start_month(ledger)
    end = period.end_date
    if not ends_fiscal_year(end, month):
        raise NotFiscalYearEnd(
            f"period {period.name} ends {end.isoformat()}, not a fiscal year end (the"
            f" fiscal year starts in month {month}: ledger metadata {FISCAL_YEAR_KEY})"
        )
    repo = CloseRepository(session)
    retained = await repo.flagged_or_coded(tenant_id, ledger.id, RETAINED_FLAG, RETAINED_CODE)
    if not retained:
        raise NoRetainedEarningsAccount(
            f"the ledger has no account with metadata {RETAINED_FLAG}=true and no account"
            f" {RETAINED_CODE}: closing entries need a retained earnings account"
        )
    start = fiscal_year_start(end, month)
    tag = closing_tag(end)
    nets = await reports_service.nets_by_asset(session, tenant_id, ledger.id, start=start, end=end)
    profit_and_loss = {
        a.id
        for a in await repo.accounts(tenant_id, ledger.id)
        if a.type in (AccountType.REVENUE.value, AccountType.EXPENSE.value)
    }
    legs = closing_legs(nets, profit_and_loss, retained[0].id)
    earlier = await repo.closing_entries(tenant_id, ledger.id, tag)
    booked = None
    if legs:
        scale = _Scales(session, tenant_id)
        postings = tuple(
            [
                PostingInput(
                    leg.account_id,
                    leg.direction,
                    format_amount(leg.amount, await scale(leg.asset)),
                    leg.asset,
                )
                for leg in legs
            ]
        )
        corrective = len(earlier) + 1
        outcome = await journal.execute_one(
            session,
            CreateEntry(
                tenant_id=tenant_id,
                ledger_id=ledger.id,
                postings=postings,
                actor=actor,
                effective_date=end,
                description=(
                    f"Year-end closing entry {start.isoformat()}..{end.isoformat()}"
                    + (f" (corrective {corrective})" if earlier else "")
                ),
                metadata={
                    CLOSING_FLAG: "true",
                    "fiscal_year": f"{start.isoformat()}..{end.isoformat()}",
                },
                source_type=CLOSING_SOURCE,
                source_id=tag,
                client_id=tag if not earlier else f"{tag}:{corrective}",
            ),
        )
        booked = outcome.id
        earlier = await repo.closing_entries(tenant_id, ledger.id, tag)
    return ClosingEntries(period, start, end, retained[0].id, booked, earlier)


async def closing_entries(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    actor: str,
) -> ClosingEntries:
    ledger, period = await _period(session, tenant_id, ledger_id, period_id)
    await LedgerRepository(session).lock_ledgers([(tenant_id, ledger_id)])
    return await book_closing_entries(session, tenant_id, ledger, period, actor=actor)


# --- close and reopen ---------------------------------------------------------------------


async def close_period(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    actor: str,
    acknowledge: Collection[Item] = (),
    reason: str | None = None,
) -> Period:
    """Close a period whose checklist passes, or whose failing items are all acknowledged
    (stored on the period: who, what, why, and the evidence as it stood). Closing a closed
    period changes nothing."""
    ledger, period = await _period(session, tenant_id, ledger_id, period_id)
    if period.status == "closed":
        return period
    # The ledger lock first: no entry slips in between the checklist and the close.
    await LedgerRepository(session).lock_ledgers([(tenant_id, ledger_id)])
    found = await build_checklist(session, tenant_id, ledger, period.end_date)
    missing = found.unacknowledged(acknowledge)
    if missing:
        raise CloseChecklistFailed(
            f"the close checklist of period {period.name} fails: {', '.join(missing)}"
            " (resolve them, or acknowledge the ones that may be acknowledged)",
            extra={
                "failing": [i.code.value for i in found.failing],
                "unacknowledged": [code.value for code in missing],
                "acknowledgeable": sorted(i.code.value for i in found.failing if i.acknowledgeable),
            },
        )
    now = utcnow()
    waived: list[dict[str, Any]] = [
        {
            "code": i.code.value,
            "reason": reason,
            "acknowledged_by": actor,
            "acknowledged_at": now.isoformat(),
            "evidence": i.evidence,
        }
        for i in found.failing
    ]
    if ends_fiscal_year(period.end_date, fiscal_start_month(ledger)):
        await book_closing_entries(session, tenant_id, ledger, period, actor=actor)
    if waived:
        period.acknowledgements = [*(period.acknowledgements or []), *waived]
    return await ledger_service.set_period_status(
        session, tenant_id, period.id, closed=True, actor=actor, ledger_id=ledger_id
    )


async def reopen_period(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    period_id: uuid.UUID,
    *,
    actor: str,
    reason: str | None = None,
) -> Period:
    """Reopen a closed period (the route is admin-only and audited). Closing entries stay:
    a re-close books a corrective entry for whatever changed. Reopening an open period
    changes nothing."""
    _, period = await _period(session, tenant_id, ledger_id, period_id)
    if period.status != "closed":
        return period
    period.reopened_at, period.reopened_by, period.reopen_reason = utcnow(), actor, reason
    return await ledger_service.set_period_status(
        session, tenant_id, period.id, closed=False, actor=actor, ledger_id=ledger_id
    )
