"""Reports: resolve the period and its comparisons, read balances from the aggregates,
hand them to the pure builders. Takes a session; never writes."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.kit.clock import utcnow
from autoledger.kit.errors import FieldError
from autoledger.ledger import service as ledger_service
from autoledger.ledger.tables import Ledger
from autoledger.ledger.views import StatementLine
from autoledger.reports import statements
from autoledger.reports.aging import AgingReport, aging
from autoledger.reports.errors import InvalidPeriod, ReportTooLarge, UnknownAccount
from autoledger.reports.periods import Compare, Period, comparison, fiscal_year_start, resolve
from autoledger.reports.repository import ReportRepository
from autoledger.reports.statements import Chart, Column, Report

FISCAL_YEAR_KEY = "fiscal_year_start_month"
GENERAL_LEDGER_MAX_LINES = 50_000


class Method(StrEnum):
    DIRECT = "direct"
    INDIRECT = "indirect"


class AgingKind(StrEnum):
    RECEIVABLE = "receivable"
    PAYABLE = "payable"


@dataclass(frozen=True, slots=True)
class ReportQuery:
    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    compare: Compare | None = None
    depth: int | None = None
    asset: str | None = None


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """A statement of one ledger in one asset; ``other_assets`` are the assets the ledger
    has booked that this report leaves out (one asset per report until FX lands)."""

    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    period: Period
    report: Report
    other_assets: list[str]


@dataclass(frozen=True, slots=True)
class GeneralLedgerAccount:
    account_id: uuid.UUID
    code: str
    name: str
    normal_side: str
    opening_balance: int
    closing_balance: int
    lines: list[StatementLine]


@dataclass(frozen=True, slots=True)
class GeneralLedger:
    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    period: Period
    accounts: list[GeneralLedgerAccount]


@dataclass(frozen=True, slots=True)
class LedgerAging:
    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    report: AgingReport


def _fiscal_start_month(ledger: Ledger) -> int:
    value = str((ledger.meta or {}).get(FISCAL_YEAR_KEY, "1"))
    return int(value) if value.isdigit() and 1 <= int(value) <= 12 else 1


class _Context:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, ledger: Ledger, q: ReportQuery):
        self.repo = ReportRepository(session)
        self.tenant_id = tenant_id
        self.ledger = ledger
        self.asset = q.asset or ledger.base_currency
        self.fiscal_month = _fiscal_start_month(ledger)
        self.period = resolve(
            as_of=q.as_of,
            date_from=q.date_from,
            date_to=q.date_to,
            today=utcnow().date(),
            fiscal_start_month=self.fiscal_month,
        )
        if q.depth is not None and q.depth < 1:
            raise InvalidPeriod(
                "depth counts chart levels from 1", errors=[FieldError("depth", "< 1")]
            )
        self.periods = [self.period]
        self.columns = [Column("current", _label(self.period), self.period.start, self.period.end)]
        if q.compare is not None:
            other = comparison(self.period, q.compare)
            self.periods.append(other)
            self.columns.append(Column(q.compare.value, _label(other), other.start, other.end))

    async def nets(self, periods: list[tuple[date | None, date]]) -> list[dict[uuid.UUID, int]]:
        return await self.repo.nets_many(self.tenant_id, self.ledger.id, self.asset, periods)

    async def chart(self) -> Chart:
        return Chart(await self.repo.accounts(self.tenant_id, self.ledger.id))

    async def finish(self, report: Report) -> LedgerReport:
        others = [
            a for a in await self.repo.assets(self.tenant_id, self.ledger.id) if a != self.asset
        ]
        return LedgerReport(
            self.ledger.id, self.ledger.name, self.asset, self.period, report, others
        )


def _label(period: Period) -> str:
    return f"{period.start.isoformat()}..{period.end.isoformat()}"


async def _context(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> _Context:
    ledger = await ledger_service.get_ledger(session, tenant_id, ledger_id)
    if query.asset is not None:
        await ledger_service.resolve(session, tenant_id, query.asset)
    return _Context(session, tenant_id, ledger, query)


def _at(ctx: _Context) -> list[Column]:
    """Point-in-time columns: balances at each period's end."""
    return [Column(c.key, c.end.isoformat(), None, c.end) for c in ctx.columns]


async def trial_balance(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> LedgerReport:
    ctx = await _context(session, tenant_id, ledger_id, query)
    balances = await ctx.nets([(None, p.end) for p in ctx.periods])
    report = statements.trial_balance(await ctx.chart(), balances, _at(ctx), query.depth)
    return await ctx.finish(report)


async def balance_sheet(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> LedgerReport:
    ctx = await _context(session, tenant_id, ledger_id, query)
    found = await ctx.nets(
        [(None, p.end) for p in ctx.periods]
        + [(fiscal_year_start(p.end, ctx.fiscal_month), p.end) for p in ctx.periods]
    )
    balances, this_year = found[: len(ctx.periods)], found[len(ctx.periods) :]
    report = statements.balance_sheet(await ctx.chart(), balances, this_year, _at(ctx), query.depth)
    return await ctx.finish(report)


async def income_statement(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> LedgerReport:
    ctx = await _context(session, tenant_id, ledger_id, query)
    movements = await ctx.nets([(p.start, p.end) for p in ctx.periods])
    report = statements.income_statement(await ctx.chart(), movements, ctx.columns, query.depth)
    return await ctx.finish(report)


async def cash_flow(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    query: ReportQuery,
    method: Method = Method.INDIRECT,
) -> LedgerReport:
    """Cash is every ledger account a bank account is booked on."""
    ctx = await _context(session, tenant_id, ledger_id, query)
    chart = await ctx.chart()
    cash = await ctx.repo.cash_accounts(tenant_id, ledger_id)
    found = await ctx.nets(
        [(p.start, p.end) for p in ctx.periods]
        + [(None, p.start - timedelta(days=1)) for p in ctx.periods]
    )
    movements, opening_nets = found[: len(ctx.periods)], found[len(ctx.periods) :]
    opening = [sum(n.get(a, 0) for a in cash) for n in opening_nets]
    if method is Method.INDIRECT:
        report = statements.cash_flow_indirect(
            chart, cash, movements, opening, ctx.columns, query.depth
        )
    else:
        counterparts = [
            await ctx.repo.cash_counterparts(tenant_id, ledger_id, ctx.asset, cash, p.start, p.end)
            for p in ctx.periods
        ]
        cash_movements = [sum(m.get(a, 0) for a in cash) for m in movements]
        report = statements.cash_flow_direct(
            chart, cash, counterparts, cash_movements, opening, ctx.columns, query.depth
        )
    return await ctx.finish(report)


async def general_ledger(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    query: ReportQuery,
    account: str | None = None,
) -> GeneralLedger:
    """Every posting of the period per account, with opening, running and closing balance:
    the ledger's own account statement, for each account that moved (or for ``account``)."""
    ctx = await _context(session, tenant_id, ledger_id, query)
    chart = await ctx.chart()
    if account is not None:
        wanted = [a for a in chart.accounts.values() if account in (a.code, str(a.id))]
        if not wanted:
            raise UnknownAccount(f"no account {account} in ledger {ledger_id}")
        ids = [wanted[0].id]
    else:
        moved = await ctx.repo.active_accounts(
            tenant_id, ledger_id, ctx.asset, ctx.period.start, ctx.period.end
        )
        ids = sorted(moved, key=lambda a: chart.accounts[a].code)
    out: list[GeneralLedgerAccount] = []
    total_lines = 0
    for account_id in ids:
        lines: list[StatementLine] = []
        cursor: str | None = None
        opening: int | None = None
        while True:
            page = await ledger_service.statement(
                session,
                tenant_id,
                account_id,
                asset=ctx.asset,
                date_from=ctx.period.start,
                date_to=ctx.period.end,
                cursor=cursor,
                limit=1000,
            )
            if opening is None:
                opening = page.opening_balance
            lines.extend(page.lines)
            total_lines += len(page.lines)
            if total_lines > GENERAL_LEDGER_MAX_LINES:
                raise ReportTooLarge(
                    f"more than {GENERAL_LEDGER_MAX_LINES} postings; narrow the period or"
                    " name one account"
                )
            cursor = page.next_cursor
            if cursor is None:
                break
        info = chart.accounts[account_id]
        side = "debit" if info.type.normal_side.value == "debit" else "credit"
        closing = lines[-1].running_balance if lines else (opening or 0)
        out.append(
            GeneralLedgerAccount(
                account_id, info.code, info.name, side, opening or 0, closing, lines
            )
        )
    return GeneralLedger(ledger_id, ctx.ledger.name, ctx.asset, ctx.period, out)


async def aging_report(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    query: ReportQuery,
    kind: AgingKind = AgingKind.RECEIVABLE,
) -> LedgerAging:
    ctx = await _context(session, tenant_id, ledger_id, query)
    as_of = ctx.period.end
    items = await ctx.repo.open_items(tenant_id, ledger_id, kind.value, ctx.asset, as_of)
    return LedgerAging(ledger_id, ctx.ledger.name, ctx.asset, aging(kind.value, as_of, items))
