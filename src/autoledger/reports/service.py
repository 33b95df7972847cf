"""Reports: resolve the period and its comparisons, read balances from the aggregates,
hand them to the pure builders. Takes a session; never writes."""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from sqlalchemy.ext.asyncio import AsyncSession

from autoledger.fx.service import rate_table
from autoledger.kit.clock import utcnow
from autoledger.kit.errors import FieldError
from autoledger.kit.money import resolve_asset
from autoledger.ledger import service as ledger_service
from autoledger.ledger.tables import Ledger
from autoledger.ledger.types import AccountType
from autoledger.ledger.views import StatementLine
from autoledger.reports import statements
from autoledger.reports.aging import AgingReport, aging
from autoledger.reports.errors import InvalidPeriod, ReportTooLarge, UnknownAccount
from autoledger.reports.periods import Compare, Period, comparison, fiscal_year_start, resolve
from autoledger.reports.repository import ReportRepository
from autoledger.reports.statements import Chart, Column, Report
from autoledger.reports.translation import ByAsset, RateUsed, Translator, balance_sheet_nets

Span = tuple[date | None, date]  # from (None: the beginning) to, inclusive
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
    """What a report covers. ``asset`` reports one asset as booked; ``currency`` converts
    every asset into that reporting currency (the two exclude each other; the API refuses
    both). Neither: the ledger's base currency, as booked."""

    as_of: date | None = None
    date_from: date | None = None
    date_to: date | None = None
    compare: Compare | None = None
    depth: int | None = None
    asset: str | None = None
    currency: str | None = None


POLICIES = {
    "trial_balance": (
        "Every account at the closing rate of the column's date; what rounding each"
        " account's conversion leaves is the cumulative translation adjustment line."
    ),
    "balance_sheet": (
        "Assets, liabilities, equity and prior years' earnings at the closing rate of the"
        " column's date; current-year earnings at the average rate of the fiscal year to"
        " that date (as the income statement); the difference is the cumulative translation"
        " adjustment, computed, not booked."
    ),
    "income_statement": "Revenue and expenses at the average rate of the column's period.",
    "cash_flow": (
        "Flows (net income, movements, counterparts) at the average rate of the column's"
        " period; cash at the beginning at the closing rate of the day before the period,"
        " at the end at the closing rate of its last day; the difference is the effect of"
        " exchange rate changes on cash."
    ),
}


@dataclass(frozen=True, slots=True)
class Translation:
    """How a report in a reporting currency was converted: the policy and every rate."""

    currency: str
    policy: str
    rates: list[RateUsed]


@dataclass(frozen=True, slots=True)
class LedgerReport:
    """A statement of one ledger in one asset; ``other_assets`` are the assets the ledger
    has booked that this report leaves out (none when ``translation`` converted them)."""

    ledger_id: uuid.UUID
    ledger_name: str
    asset: str
    period: Period
    report: Report
    other_assets: list[str]
    translation: Translation | None = None


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


def fiscal_start_month(ledger: Ledger) -> int:
    """The month the ledger's fiscal year starts in (metadata, default January)."""
    value = str((ledger.meta or {}).get(FISCAL_YEAR_KEY, "1"))
    return int(value) if value.isdigit() and 1 <= int(value) <= 12 else 1


class _Context:
    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, ledger: Ledger, q: ReportQuery):
        self.repo = ReportRepository(session)
        self.tenant_id = tenant_id
        self.ledger = ledger
        self.asset = q.currency or q.asset or ledger.base_currency
        self.translator: Translator | None = None
        self.fiscal_month = fiscal_start_month(ledger)
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

    async def nets(
        self, periods: Sequence[Span], *, closing_entries: bool = True
    ) -> list[dict[uuid.UUID, int]]:
        found = await self.repo.nets_many(self.tenant_id, self.ledger.id, self.asset, periods)
        if not closing_entries:
            closing = await self.repo.closing_nets(self.tenant_id, self.ledger.id, periods)
            for nets, less in zip(found, closing, strict=True):
                for account, net in less.get(self.asset, {}).items():
                    nets[account] = nets.get(account, 0) - net
        return found

    async def nets_by_asset(
        self, periods: Sequence[Span], *, closing_entries: bool = True
    ) -> list[ByAsset]:
        """Per period, asset → account → net; without ``closing_entries`` the year-end
        closing entries (ADR 0018) are left out: statements of a period's activity (income
        statement, cash flow) show the year's earnings, not their transfer to equity."""
        found = await self.repo.nets_by_asset(self.tenant_id, self.ledger.id, periods)
        if closing_entries:
            return list(found)
        closing = await self.repo.closing_nets(self.tenant_id, self.ledger.id, periods)
        out: list[ByAsset] = []
        for by_asset, less in zip(found, closing, strict=True):
            merged = {asset: dict(nets) for asset, nets in by_asset.items()}
            for asset, nets in less.items():
                target = merged.setdefault(asset, {})
                for account, net in nets.items():
                    target[account] = target.get(account, 0) - net
            out.append(merged)
        return out

    async def translate_into(self, session: AsyncSession, currency: str) -> Translator:
        """A translator into ``currency`` with the tenant's rates for every column (from the
        earliest fiscal-year start or day before a period, to the latest end)."""
        held = await self.repo.assets(self.tenant_id, self.ledger.id)
        earliest = min(
            min(fiscal_year_start(p.end, self.fiscal_month), p.start) - timedelta(days=1)
            for p in self.periods
        )
        latest = max(p.end for p in self.periods)
        table = await rate_table(session, self.tenant_id, {*held, currency}, earliest, latest)
        custom = await ledger_service.asset_scales(session, self.tenant_id)
        scales = {}
        for asset in {*held, currency}:
            found = resolve_asset(asset, custom)
            if found is not None:
                scales[asset] = found.scale
        self.translator = Translator(table, currency, scales[currency], scales)
        return self.translator

    async def chart(self) -> Chart:
        return Chart(await self.repo.accounts(self.tenant_id, self.ledger.id))

    async def finish(self, report: Report) -> LedgerReport:
        if self.translator is not None:
            translation = Translation(
                self.translator.currency, POLICIES[report.kind], self.translator.used
            )
            return LedgerReport(
                self.ledger.id, self.ledger.name, self.asset, self.period, report, [], translation
            )
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
    ctx = _Context(session, tenant_id, ledger, query)
    if query.currency is not None:
        await ledger_service.resolve(session, tenant_id, query.currency)
        await ctx.translate_into(session, query.currency)
    return ctx


def _at(ctx: _Context) -> list[Column]:
    """Point-in-time columns: balances at each period's end."""
    return [Column(c.key, c.end.isoformat(), None, c.end) for c in ctx.columns]


async def trial_balance(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> LedgerReport:
    ctx = await _context(session, tenant_id, ledger_id, query)
    ends = [(None, p.end) for p in ctx.periods]
    tr = ctx.translator
    if tr is None:
        balances = await ctx.nets(ends)
    else:
        found = await ctx.nets_by_asset(ends)
        balances = [
            tr.convert(n, tr.closing(p.end)) for n, p in zip(found, ctx.periods, strict=True)
        ]
    report = statements.trial_balance(
        await ctx.chart(), balances, _at(ctx), query.depth, translated=tr is not None
    )
    return await ctx.finish(report)


async def balance_sheet(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> LedgerReport:
    ctx = await _context(session, tenant_id, ledger_id, query)
    chart = await ctx.chart()
    years = [fiscal_year_start(p.end, ctx.fiscal_month) for p in ctx.periods]
    periods = [(None, p.end) for p in ctx.periods] + [
        (y, p.end) for y, p in zip(years, ctx.periods, strict=True)
    ]
    n = len(ctx.periods)
    tr = ctx.translator
    if tr is None:
        found = await ctx.nets(periods)
        balances, this_year = found[:n], found[n:]
    else:
        # Balance-sheet accounts and the P&L of earlier years at the closing rate, the
        # year's P&L at its average: the converted nets then sum to the translation
        # adjustment (statements.balance_sheet).
        by_asset = await ctx.nets_by_asset(periods)
        pl = chart.of_type(AccountType.REVENUE, AccountType.EXPENSE)
        balances, this_year = [], []
        for i, (p, year) in enumerate(zip(ctx.periods, years, strict=True)):
            at_end, current = balance_sheet_nets(tr, by_asset[i], by_asset[n + i], pl, p.end, year)
            balances.append(at_end)
            this_year.append(current)
    report = statements.balance_sheet(
        chart, balances, this_year, _at(ctx), query.depth, translated=tr is not None
    )
    return await ctx.finish(report)


async def income_statement(
    session: AsyncSession, tenant_id: uuid.UUID, ledger_id: uuid.UUID, query: ReportQuery
) -> LedgerReport:
    ctx = await _context(session, tenant_id, ledger_id, query)
    spans = [(p.start, p.end) for p in ctx.periods]
    tr = ctx.translator
    if tr is None:
        movements = await ctx.nets(spans, closing_entries=False)
    else:
        found = await ctx.nets_by_asset(spans, closing_entries=False)
        movements = [
            tr.convert(m, tr.average(p.start, p.end))
            for m, p in zip(found, ctx.periods, strict=True)
        ]
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
    if ctx.translator is not None:
        return await ctx.finish(
            await _cash_flow_translated(ctx, ctx.translator, chart, cash, query, method)
        )
    found = await ctx.nets(
        [(p.start, p.end) for p in ctx.periods]
        + [(None, p.start - timedelta(days=1)) for p in ctx.periods],
        closing_entries=False,
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


async def _cash_flow_translated(
    ctx: _Context,
    tr: Translator,
    chart: Chart,
    cash: set[uuid.UUID],
    query: ReportQuery,
    method: Method,
) -> Report:
    """Flows at each period's average rate, cash at its opening and closing days' closing
    rates; ``statements`` shows the difference as the effect of exchange rates on cash."""
    n = len(ctx.periods)
    found = await ctx.nets_by_asset(
        [(p.start, p.end) for p in ctx.periods]
        + [(None, p.start - timedelta(days=1)) for p in ctx.periods]
        + [(None, p.end) for p in ctx.periods],
        closing_entries=False,
    )
    averages = [tr.average(p.start, p.end) for p in ctx.periods]
    opening = [
        sum(tr.convert(found[n + i], tr.closing(p.start - timedelta(days=1)), cash).values())
        for i, p in enumerate(ctx.periods)
    ]
    closing = [
        sum(tr.convert(found[2 * n + i], tr.closing(p.end), cash).values())
        for i, p in enumerate(ctx.periods)
    ]
    movements = [tr.convert(found[i], averages[i]) for i in range(n)]
    if method is Method.INDIRECT:
        return statements.cash_flow_indirect(
            chart, cash, movements, opening, ctx.columns, query.depth, closing=closing
        )
    counterparts = [
        tr.convert(
            await ctx.repo.cash_counterparts_by_asset(
                ctx.tenant_id, ctx.ledger.id, cash, p.start, p.end
            ),
            averages[i],
        )
        for i, p in enumerate(ctx.periods)
    ]
    cash_movements = [sum(m.get(a, 0) for a in cash) for m in movements]
    return statements.cash_flow_direct(
        chart,
        cash,
        counterparts,
        cash_movements,
        opening,
        ctx.columns,
        query.depth,
        closing=closing,
    )


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


async def nets_by_asset(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    ledger_id: uuid.UUID,
    *,
    start: date | None,
    end: date,
) -> dict[str, dict[uuid.UUID, int]]:
    """Σ posted debits - Σ posted credits per asset and account, effective in ``[start,
    end]`` (from the beginning when ``start`` is None), read from the aggregates: what the
    period close (ADR 0018) checks and closes."""
    repo = ReportRepository(session)
    return {
        asset: await repo.nets(tenant_id, ledger_id, asset, start, end)
        for asset in await repo.assets(tenant_id, ledger_id)
    }
